"""k8s_client's waiting: poll() and Cluster.wait_gone, and k8s_apply's wait_for on top of poll()."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import k8s_client
from ansible_collections.onprem.k8snet.plugins.modules import k8s_apply


def answers(*said):
    left = list(said)
    return lambda: left.pop(0) if len(left) > 1 else left[0]


def test_poll_asks_until_done_and_gives_the_last_answer_when_time_runs_out():
    done, waited = k8s_client.poll(answers("two pods left", "one pod left", None), timeout=5, interval=0)
    assert done is None and waited < 5
    stuck, waited = k8s_client.poll(answers("never ready"), timeout=0.05, interval=0.01)
    assert stuck == "never ready" and waited >= 0.05


def test_wait_gone_names_what_is_still_there():
    cluster = k8s_client.Cluster.__new__(k8s_client.Cluster)
    there = {"a", "b"}
    cluster.get = lambda r: r if r["name"] in there else None
    refs = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert cluster.wait_gone(refs, timeout=0.05, interval=0.01) == [{"name": "a"}, {"name": "b"}]
    there.clear()
    assert cluster.wait_gone(refs, timeout=5, interval=0) == []


def test_k8s_apply_wait_for_records_the_wait_or_fails_naming_the_last_reason(monkeypatch):
    monkeypatch.setattr(k8s_apply, "POLL", 0.01)
    waited = []
    k8s_apply.wait_for("deployment/controller to roll out", answers("1 of 2 ready", None), 5, waited)
    assert [w["what"] for w in waited] == ["deployment/controller to roll out"]
    with pytest.raises(k8s_apply.ApplyError, match=r"^timed out after 0.05 s waiting for CRD x to be Established: "
                                                   r"not Established$"):
        k8s_apply.wait_for("CRD x to be Established", answers("not Established"), 0.05, waited)
