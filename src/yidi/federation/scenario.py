"""``yidi scenario run --federated``: the same scenario files on a federation — one node per province of the
reference data plus the hub, each with its own SQLite database, connected through the real NATS server.

As the spec says: filing steps enter at the person's insured node, whose agency makes them; settle, estimate and
manual-claim steps at the treatment node (the institution's province), which asks the insured node when the person
is insured elsewhere — a manual claim (零星报销) travels there and is made there, and the insured region's agency
decides it (approve, reject, and the approval of a ``manual_claim`` step) on that node; a change, cancel or decision
enters where the thing it refers to lives. The report is the same document as on one node (services/scenario.py).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml

from yidi.adapters.orm import InstitutionRow
from yidi.federation.local import LocalFederation
from yidi.federation.node import Node
from yidi.services.context import AppContext
from yidi.services.reference import DEMO_DATA
from yidi.services.scenario import (Runner, ScenarioReport, _migrated_template, add_scenario_person, load_scenario,
                                    scenario_persons, validate_shape)


class FederatedRunner(Runner):
    def __init__(self, federation: LocalFederation):
        self.federation = federation
        self.default = next(iter(federation.nodes.values()))
        super().__init__(self.default.ctx)
        self.insured_region: dict[str, str] = {}  # psn_no → insured region (the story's persons)
        self.entered_at: dict[str, Node] = {}  # step id → the node a filing or settlement step ran on
        self.claim_node: dict[str, Node] = {}  # claim id → the insured node that holds it

    def _node(self, admdvs: str | None) -> Node:
        return self.federation.node_for(admdvs) or self.default

    def _treatment_node(self, step: dict) -> Node:
        code = step.get("fixmedins_code")
        with self.default.ctx.unit_of_work() as session:  # the registry, as every node loaded it from the hub
            institution = session.get(InstitutionRow, str(code)) if code else None
        if institution is not None:
            return self._node(institution.admdvs)
        return self._node(self.insured_region.get(str(step.get("psn_no"))))

    def run_step(self, step: dict):
        action = step["do"]
        refers_to = {"change_filing": "filing", "cancel_filing": "filing", "cancel_settlement": "settlement",
                     "approve_claim": "claim", "reject_claim": "claim", "supply_materials": "filing"}
        if action in ("file", "insurance_status"):  # made at the insured node (its agency decides)
            node = self._node(self.insured_region.get(str(step.get("psn_no"))))
        elif action in refers_to:  # where the step it refers to was entered
            node = self.entered_at.get(str(step.get(refers_to[action])), self.default)
        else:  # settle, estimate, manual claims: at the treatment node
            node = self._treatment_node(step)
        self.ctx = node.ctx
        # a manual claim lives (and its settlement, once approved) at the insured node, where the steps that refer
        # to it (approve, reject, cancel) are decided
        lives_at = self._node(self.insured_region.get(str(step.get("psn_no")))) \
            if action in ("manual_claim", "submit_claim") else node
        self.entered_at[str(step["id"])] = lives_at
        return super().run_step(step)

    def _submit_claim(self, step: dict):
        claim = super()._submit_claim(step)
        self.claim_node[claim.claim_id] = self._node(claim.insuplc_admdvs)
        return claim

    def _at_claim_node(self, claim_id: str, work):
        entered, self.ctx = self.ctx, self.claim_node.get(claim_id, self.default).ctx
        try:
            return work()
        finally:
            self.ctx = entered

    def _clerk(self, claim_id: str):
        return self._at_claim_node(claim_id, lambda: super(FederatedRunner, self)._clerk(claim_id))

    def _decide(self, claim_id: str, approve: bool, on, reason: str = ""):
        return self._at_claim_node(claim_id, lambda: super(FederatedRunner, self)._decide(claim_id, approve, on,
                                                                                          reason))


def run_federated_data(data: dict, federation: LocalFederation) -> ScenarioReport:
    validate_shape(data)
    runner = FederatedRunner(federation)
    baseline = yaml.safe_load(DEMO_DATA.read_text(encoding="utf-8")).get("persons", [])
    for person, declared in scenario_persons(data, baseline):
        node = runner._node(person["insuplc_admdvs"])
        with node.ctx.unit_of_work() as session:
            add_scenario_person(session, person, declared)
        runner.names[person["psn_no"]] = person["name"]
        runner.insured_region[person["psn_no"]] = person["insuplc_admdvs"]
    for node in federation.nodes.values():
        node.index_persons()
    steps = [runner.run_step(step) for step in data["steps"]]
    return ScenarioReport(str(data.get("name", "")), steps)


def run_federated_file(path: Path, url: str) -> ScenarioReport:
    data = load_scenario(path)
    with tempfile.TemporaryDirectory(prefix="yidi-federated-") as tmp:
        def fresh(name: str) -> AppContext:
            database = Path(tmp) / f"{name}.db"
            shutil.copyfile(_migrated_template(), database)
            return AppContext.from_url(f"sqlite:///{database}", migrate=False)

        with LocalFederation(fresh, url=url, deferred=False) as federation:  # no unreachable node here
            return run_federated_data(data, federation)
