# Several checks in one exec (verify, api mode): each argument is a command run by sh -c; for each, a line
# "@@k8snet-check <index> <exit code>", its stdout, "@@k8snet-stderr", its stderr (module_utils/verify.py
# split_batch reads them). One exec per pod instead of one per check: fewer round trips and loop items.
i=0
for c in "$@"; do
  out=$(sh -c "$c" 2>/tmp/k8snet-check-err)
  rc=$?
  printf '@@k8snet-check %d %d\n%s\n@@k8snet-stderr\n' "$i" "$rc" "$out"
  cat /tmp/k8snet-check-err
  i=$((i + 1))
done
