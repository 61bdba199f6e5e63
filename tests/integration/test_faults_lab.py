"""Faults as operators meet them: a node lost in the middle of a run (render-mode lab).

node3 stops answering SSH (connections reset) as soon as the probe play starts: it drops out of the
run as unreachable (and, any_errors_fatal, the others stop with it). The run must not go on to write
the add-ons or record the plan as applied for hosts it never prepared; it names them. With node3 back, the very next run
converges (nothing the interrupted run left behind trips the probes), and a third changes nothing.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import clean_node_state
from tests.integration.renders import STATE_FILE

pytestmark = pytest.mark.lab

PROBE_PLAY = "Probe the underlay with real packets before anything is changed"
BLOCK_SSH = ("nft add table inet k8snet-test && nft add chain inet k8snet-test input "
             "'{ type filter hook input priority -10; }' && "
             "nft add rule inet k8snet-test input tcp dport 22 reject with tcp reset")


@pytest.fixture
def lost_node(lab):
    clean_node_state(lab)
    yield lab
    lab.exec("node3", "nft delete table inet k8snet-test", check=False)
    clean_node_state(lab)


def test_a_node_lost_during_the_probes_stops_the_run_before_the_add_ons_and_the_record(lost_node, run_playbook,
                                                                                       tmp_path):
    lab = lost_node
    rendered = tmp_path / "rendered"
    blocked = []

    def lose_node3(event):
        play = (event.get("event_data") or {}).get("play")
        if event.get("event") == "playbook_on_play_start" and play == PROBE_PLAY and not blocked:
            lab.exec("node3", BLOCK_SSH)
            blocked.append(play)

    result = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(rendered)},
                          on_event=lose_node3)
    assert blocked, "the probe play never started"
    assert result.rc != 0
    assert result.stats["node3"]["unreachable"] >= 1
    # any_errors_fatal: node1 and node2 stop with it, none is prepared
    assert ("node1, node2, node3 were not prepared in this run (a host became unreachable or failed, see above): "
            "nothing more is applied to the cluster and the plan is not recorded as applied"
            ) in result.failed_messages()
    assert not (rendered / STATE_FILE).exists()
    assert not any(rendered.glob("*/*.yaml")), sorted(rendered.glob("*/*.yaml"))

    lab.exec("node3", "nft delete table inet k8snet-test")
    again = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(rendered)})
    assert again.rc == 0, again.why()
    assert (rendered / STATE_FILE).exists()
    third = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(rendered)})
    assert third.rc == 0 and third.changed_hosts() == [], third.why()
