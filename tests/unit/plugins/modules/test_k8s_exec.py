"""onprem.k8snet.k8s_exec and k8s_client.exit_code (the status an exec's error channel ends with)."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import k8s_client
from ansible_collections.onprem.k8snet.plugins.modules import k8s_exec


class FakeCluster:
    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.calls = answer, error, []

    def exec(self, namespace, pod, container, argv, timeout):
        self.calls.append((namespace, pod, container, argv, timeout))
        if self.error:
            raise self.error
        return self.answer


def params(**given):
    return {"namespace": "k8snet-verify", "pod": "verify-a", "container": "client", "argv": ["curl", "-sS", "x"],
            "timeout": 60, "kubeconfig": None, "context": None, **given}


def test_the_exit_code_and_output_come_back_and_a_non_zero_code_is_no_failure():
    cluster = FakeCluster({"rc": 7, "stdout": "", "stderr": "curl: (7) Failed to connect"})
    result = k8s_exec.run(params(), cluster=cluster)
    assert result == {"changed": False, "rc": 7, "stdout": "", "stderr": "curl: (7) Failed to connect"}
    assert cluster.calls == [("k8snet-verify", "verify-a", "client", ["curl", "-sS", "x"], 60)]


def test_check_mode_runs_nothing():
    cluster = FakeCluster({"rc": 0, "stdout": "", "stderr": ""})
    assert k8s_exec.run(params(), check_mode=True, cluster=cluster)["skipped"] and cluster.calls == []


def test_a_command_that_cannot_run_fails_naming_the_pod_and_why():
    cluster = FakeCluster(error=k8s_client.ClusterError('exec: "curl": executable file not found in $PATH'))
    result = k8s_exec.run(params(), cluster=cluster)
    assert result["failed"] and "executable file not found" in result["msg"]
    result = k8s_exec.run(params(argv=[]), cluster=cluster)
    assert result["failed"] and result["msg"] == "argv: no command to run in k8snet-verify/verify-a (client)"


@pytest.mark.parametrize(("status", "code"), [
    ({"metadata": {}, "status": "Success"}, 0),
    ({"status": "Failure", "reason": "NonZeroExitCode",
      "details": {"causes": [{"reason": "ExitCode", "message": "28"}]}}, 28),
])
def test_exit_code_reads_success_and_the_exit_code_cause(status, code):
    assert k8s_client.exit_code(status) == code


def test_exit_code_of_a_command_that_never_ran_is_an_error_with_the_servers_message():
    status = {"status": "Failure", "reason": "InternalError", "message": 'exec: "sh": executable file not found',
              "details": {"causes": [{"message": 'exec: "sh": executable file not found'}]}}
    with pytest.raises(k8s_client.ClusterError, match="executable file not found"):
        k8s_client.exit_code(status)
    with pytest.raises(k8s_client.ClusterError, match="without a status"):
        k8s_client.exit_code({})
