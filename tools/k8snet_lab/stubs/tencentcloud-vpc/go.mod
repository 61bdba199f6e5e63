// A stand-in for the TencentCloud VPC SDK, which the Go module proxy reachable here does
// not serve. flannel v0.28.9's main package links its tencentvpc backend unconditionally;
// this lets flanneld build with every other backend unchanged. The tencentvpc backend of
// the lab's flanneld fails at its first API call with ErrNotBuilt. See docs/LAB.md.
module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc

go 1.21
