"""k8s_client's waiting: wait_each() and Cluster.wait_gone, and k8s_apply's wait_all on top of wait_each()."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import k8s_client
from ansible_collections.onprem.k8snet.plugins.modules import k8s_apply


class Looks:
    """A cluster whose objects answer, read after read, what each was told to (the last answer again and again);
    it counts the rounds of reads sent at once."""

    def __init__(self, **said):
        self.said, self.rounds = {name: list(answers) for name, answers in said.items()}, []

    def get(self, r):
        left = self.said[r["name"]]
        return left.pop(0) if len(left) > 1 else left[0]

    def each(self, work, items):
        self.rounds.append([i["name"] for i in items])
        return [work(i) for i in items]


def test_wait_each_reads_what_is_not_done_yet_at_once_until_done_or_out_of_time():
    cluster = Looks(a=["two pods left", "one pod left", None], b=[None])
    done, still = k8s_client.wait_each(cluster, [{"name": "a"}, {"name": "b"}], lambda reason: reason, 5, 0)
    assert [r["name"] for r, _ in done] == ["b", "a"] and still == []
    assert cluster.rounds == [["a", "b"], ["a"], ["a"]]
    cluster = Looks(c=["never ready"])
    done, still = k8s_client.wait_each(cluster, [{"name": "c"}], lambda reason: reason, 0.05, 0.01, first=["no"])
    assert done == [] and still == [({"name": "c"}, "never ready")] and cluster.rounds[0] == ["c"]


def test_wait_gone_names_what_is_still_there():
    cluster = k8s_client.Cluster.__new__(k8s_client.Cluster)
    there = {"a", "b"}
    cluster.get = lambda r: r if r["name"] in there else None
    refs = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert cluster.wait_gone(refs, timeout=0.05, interval=0.01) == [{"name": "a"}, {"name": "b"}]
    there.clear()
    assert cluster.wait_gone(refs, timeout=5, interval=0) == []


def test_k8s_apply_wait_all_records_each_wait_as_it_ends_or_fails_naming_the_first_left_and_its_reason(monkeypatch):
    monkeypatch.setattr(k8s_apply, "POLL", 0.01)
    cluster = Looks(a=["1 of 2 ready", None], b=[None], x=["starting", "not Established"])
    waited = []
    k8s_apply.wait_all(cluster, [{"name": "a"}, {"name": "b"}], None, problem=lambda reason: reason,
                       what=lambda r: f"{r['name']} to roll out", timeout=5, waited=waited)
    assert [w["what"] for w in waited] == ["b to roll out", "a to roll out"]            # in the order they ended
    with pytest.raises(k8s_apply.ApplyError, match=r"^timed out after 0.05 s waiting for CRD x to be Established: "
                                                   r"not Established$"):
        k8s_apply.wait_all(cluster, [{"name": "x"}], None, problem=lambda reason: reason,
                           what=lambda r: f"CRD {r['name']} to be Established", timeout=0.05, waited=waited)
