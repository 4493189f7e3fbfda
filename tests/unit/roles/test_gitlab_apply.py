"""Run the gitlab role against an in-memory API server over HTTP, the way it runs on a cluster.

The fake API server (tests/unit/fake_k8s.py) keeps resourceVersions as a real one does and
logs every request; fake controllers (fake_workloads.py, plus a Job controller in
fake_cluster.py) roll out the Deployments and finish the init Job. One scenario, run once per
session, in order:

deploy -> run again -> --check --diff -> image tags across an upgrade stop and back -> change the config and the init Job's inputs -> the
completed init Job cleaned up -> a new Redis password -> an init Job that fails -> a redis that
never becomes Ready -> state=absent.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from dataclasses import dataclass, field

import pytest

from fake_cluster import ApiServer, ClusterLoop
from fake_k8s import serve_http
from gitlab_playbook import DEFAULTS_PLAYBOOK, start

NAMESPACE = "gitlab"
# Small waits: the fake cluster settles in a few ticks.
FAST = {"gitlab_wait_poll_interval": 1, "gitlab_middleware_timeout": 60, "gitlab_init_timeout": 60, "gitlab_app_timeout": 60}
BROKEN_REDIS_IMAGE = "redis:7.2.5-broken"
ROTATED_REDIS_PASSWORD = "Rotated-redis-password-1234"


@dataclass
class Run:
    returncode: int
    output: str
    requests: list  # the API requests this run made
    before: dict  # resourceVersion per object before the run
    after: dict
    objects: dict = field(default_factory=dict)  # kind -> objects left after the run, where a test needs them

    @property
    def recap(self) -> dict[str, int]:
        match = re.search(r"localhost\s+:\s+(.*)", self.output.split("PLAY RECAP")[-1])
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}

    def writes(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests
                if r.method in ("POST", "PUT", "PATCH", "DELETE") and not r.dry_run]

    def rewritten(self) -> dict:
        return {k: (v, self.after.get(k)) for k, v in self.before.items() if self.after.get(k) != v}


def _versions(api: ApiServer) -> dict[str, str]:
    with api._lock:
        return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in api.objects.values()}


def _objects(api: ApiServer, kind: str) -> list[dict]:
    with api._lock:
        return [o for o in api.objects.values() if o["kind"] == kind and not o["metadata"].get("deletionTimestamp")]


def _remove_jobs(api: ApiServer) -> None:
    with api._lock:
        for key in [k for k, o in api.objects.items() if o["kind"] == "Job" or o["metadata"].get("labels", {}).get("job-name")]:
            del api.objects[key]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    api = ApiServer()
    server, url = serve_http(api)
    home = tmp_path_factory.mktemp("apply")
    env = {"K8S_AUTH_HOST": url, "K8S_AUTH_API_KEY": "test-token", "K8S_AUTH_VERIFY_SSL": "false"}

    def run(*args: str, **variables) -> Run:
        before, logged = _versions(api), len(api.log)
        process = start([str(DEFAULTS_PLAYBOOK), "-e", json.dumps({**FAST, **variables}), *args], home, env)
        try:
            output = process.communicate(timeout=900)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        time.sleep(0.5)  # a tick for the controllers, so "after" is what a user would see next
        return Run(process.returncode, output, api.log[logged:], before, _versions(api))

    runs: dict[str, Run] = {}
    try:
        # An init Job with backoffLimit 0 stands for a database that refuses the SQL.
        with ClusterLoop(api, fails=lambda job: job["spec"].get("backoffLimit") == 0) as loop:
            runs["deploy"] = run("--diff")  # --diff too: its output must not show a Secret either
            runs["deploy"].objects = {k: _objects(api, k) for k in ("Job", "Pod", "ReplicaSet", "Secret")}
            runs["again"] = run()
            runs["check"] = run("--check", "--diff")
            runs["skip_stop"] = run(gitlab_app_image_tag="18.9.0-ce.0")
            runs["downgrade"] = run(gitlab_app_image_tag="18.6.2-ce.0")
            changed = {"gitlab_external_url": "https://gitlab.example.com", "gitlab_init_backoff_limit": 3}
            runs["change"] = run(**changed)
            runs["change"].objects = {k: _objects(api, k) for k in ("Job", "ReplicaSet")}
            _remove_jobs(api)  # as a TTL or a cleanup policy would
            runs["job_cleaned"] = run(**changed)
            runs["job_cleaned"].objects = {"Job": _objects(api, "Job")}
            runs["rotate"] = run(**changed, gitlab_redis_password=ROTATED_REDIS_PASSWORD)
            runs["rotate"].objects = {"Secret": _objects(api, "Secret")}
            runs["job_fails"] = run(gitlab_init_backoff_limit=0)
            loop.cluster.broken_images[BROKEN_REDIS_IMAGE] = ("ImagePullBackOff", 'Back-off pulling image "redis:7.2.5-broken"')
            runs["redis_broken"] = run(gitlab_redis_image_tag="7.2.5-broken", gitlab_middleware_timeout=3)
            runs["absent"] = run(gitlab_state="absent", gitlab_redis_image_tag="7.2.5-broken")
            runs["absent"].objects = {k: _objects(api, k) for k in
                                      ("Deployment", "Service", "ConfigMap", "Job", "PersistentVolumeClaim", "Secret", "Pod")}
    finally:
        server.shutdown()
    return runs


def test_the_first_run_deploys_everything_and_waits_for_it(scenario: dict[str, Run]) -> None:
    deploy = scenario["deploy"]
    assert deploy.returncode == 0, deploy.output[-3000:]
    assert deploy.recap["changed"] > 0 and deploy.recap["failed"] == 0
    created = sorted(f"{r.body['kind']}/{r.body['metadata']['name']}" for r in deploy.requests
                     if r.method == "POST" and not r.dry_run)
    job = deploy.objects["Job"][0]["metadata"]["name"]
    assert created == sorted([
        "Namespace/gitlab", "Secret/gitlab-root-password", "Secret/gitlab-postgresql-password", "Secret/gitlab-redis-password",
        "Secret/gitlab-postgresql-admin-password",
        "PersistentVolumeClaim/gitlab-data", "PersistentVolumeClaim/gitlab-redis-data", "PersistentVolumeClaim/gitlab-postgresql-data",
        "Service/gitlab-redis", "Deployment/gitlab-redis", "Service/gitlab-postgresql", "Deployment/gitlab-postgresql",
        f"Job/{job}", "ConfigMap/gitlab-init-completed", "ConfigMap/gitlab-omnibus-config", "Service/gitlab",
        "Deployment/gitlab", "Secret/gitlab-root-seed",
    ])
    assert deploy.objects["Job"][0]["status"]["conditions"][0]["type"] == "Complete"
    # In order: redis and postgres Ready, then the init Job complete, then gitlab-ce Ready.
    steps = ["Wait until Ready: gitlab-redis, gitlab-postgresql (up to 60s, one check every 1s)",
             f"Create the init Job {job}", f"Wait for the init Job to complete: {job}",
             "Apply gitlab-ce", "Wait until Ready: gitlab (up to 60s"]
    positions = [deploy.output.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), positions


def test_the_root_password_leaves_gitlabs_pod_once_gitlab_has_seeded_its_database(scenario: dict[str, Run]) -> None:
    deploy = scenario["deploy"]
    writes = deploy.writes()
    # The copy GitLab's pod mounts is deleted only after GitLab is Ready (it has seeded the database).
    seed_deleted = writes.index(f"DELETE /api/v1/namespaces/{NAMESPACE}/secrets/gitlab-root-seed")
    gitlab_created = max(i for i, w in enumerate(writes) if w == f"POST /apis/apps/v1/namespaces/{NAMESPACE}/deployments")
    assert seed_deleted > gitlab_created
    assert deploy.output.find("Delete the root password's copy for the seed") > deploy.output.find("Wait until Ready: gitlab (")
    assert sorted(s["metadata"]["name"] for s in deploy.objects["Secret"]) == [
        "gitlab-postgresql-admin-password", "gitlab-postgresql-password", "gitlab-redis-password", "gitlab-root-password"]
    # GitLab's pod template is unchanged by it: the volume is optional, the pod is not rolled.
    gitlab_sets = {rs["metadata"]["name"] for rs in deploy.objects["ReplicaSet"]
                   if rs["metadata"]["name"].startswith("gitlab-") and rs["metadata"]["ownerReferences"][0]["name"] == "gitlab"}
    assert len(gitlab_sets) == 1


def test_a_second_run_changes_nothing_and_rewrites_nothing(scenario: dict[str, Run]) -> None:
    again = scenario["again"]
    assert again.returncode == 0, again.output[-3000:]
    assert again.recap["changed"] == 0
    assert again.rewritten() == {}
    # No create, replace or delete.
    assert [w for w in again.writes() if not w.startswith("PATCH")] == []
    assert not [w for w in again.writes() if "/secrets/" in w], "kept Secrets are not written again"
    # Not even a patch the server finds empty: only the objects that differ from their manifest are applied.
    assert again.writes() == []


def test_check_mode_reports_no_change_and_writes_nothing(scenario: dict[str, Run]) -> None:
    check = scenario["check"]
    assert check.returncode == 0, check.output[-3000:]
    assert check.recap["changed"] == 0
    assert check.writes() == []
    assert check.rewritten() == {}


@pytest.mark.parametrize(("run", "message"), [
    ("skip_stop", "gitlab_app_image_tag 18.9.0-ce.0 would upgrade the running GitLab 18.7.1 across the required upgrade "
                  "stop 18.8: upgrade to the latest 18.8 patch first"),
    ("downgrade", "gitlab_app_image_tag 18.6.2-ce.0 would downgrade the running GitLab 18.7.1"),
])
def test_an_image_tag_off_gitlabs_upgrade_path_is_refused_before_any_write(scenario: dict[str, Run], run: str,
                                                                           message: str) -> None:
    refused = scenario[run]
    assert refused.returncode != 0 and message in refused.output, refused.output[-3000:]
    assert refused.writes() == [] and refused.rewritten() == {}


def test_a_completed_init_job_that_was_cleaned_up_is_not_run_again(scenario: dict[str, Run]) -> None:
    cleaned = scenario["job_cleaned"]
    assert cleaned.returncode == 0, cleaned.output[-3000:]
    assert cleaned.recap["changed"] == 0
    assert cleaned.writes() == [] and cleaned.objects["Job"] == []


def test_a_new_redis_password_rolls_redis_and_gitlab_and_nothing_else(scenario: dict[str, Run]) -> None:
    rotate = scenario["rotate"]
    assert rotate.returncode == 0, rotate.output[-3000:]
    rewritten = set(rotate.rewritten())
    assert {"Secret/gitlab-redis-password", "Deployment/gitlab-redis", "Deployment/gitlab"} <= rewritten
    assert not rewritten & {"Deployment/gitlab-postgresql", "Secret/gitlab-postgresql-password", "Secret/gitlab-root-password",
                            "ConfigMap/gitlab-omnibus-config"}
    secret = next(s for s in rotate.objects["Secret"] if s["metadata"]["name"] == "gitlab-redis-password")
    assert base64.b64decode(secret["data"]["redis.conf"]).decode() == f'requirepass "{ROTATED_REDIS_PASSWORD}"\n'
    assert not [w for w in rotate.writes() if "/jobs" in w], "the init Job does not depend on the password's value"


def test_a_config_change_rolls_gitlab_and_a_new_init_job_replaces_the_old(scenario: dict[str, Run]) -> None:
    deploy, change = scenario["deploy"], scenario["change"]
    assert change.returncode == 0, change.output[-3000:]
    rewritten = set(change.rewritten())
    assert {"ConfigMap/gitlab-omnibus-config", "Deployment/gitlab"} <= rewritten
    # redis and postgres do not depend on the config: they are left alone.
    assert not rewritten & {"Deployment/gitlab-redis", "Deployment/gitlab-postgresql", "Secret/gitlab-root-password"}
    old_job = deploy.objects["Job"][0]["metadata"]["name"]
    new_jobs = [j["metadata"]["name"] for j in change.objects["Job"]]
    assert len(new_jobs) == 1 and new_jobs[0] != old_job
    assert f"DELETE /apis/batch/v1/namespaces/{NAMESPACE}/jobs/{old_job}" in change.writes()
    gitlab_sets = [rs for rs in change.objects["ReplicaSet"] if rs["metadata"]["name"].startswith("gitlab-")
                   and not rs["metadata"]["name"].startswith(("gitlab-redis", "gitlab-postgresql"))]
    assert len({rs["metadata"]["name"] for rs in gitlab_sets}) == 2, "the gitlab pod template changed once"


def test_a_failing_init_job_fails_the_role_with_its_log(scenario: dict[str, Run]) -> None:
    failed = scenario["job_fails"]
    assert failed.returncode != 0
    assert re.search(r"The init Job gitlab-init-[0-9a-f]{10} failed: see the diagnosis above", failed.output)
    # The doctor's findings about the Job and its pod, then the Job's log.
    assert re.search(r"ERROR: Job gitlab/gitlab-init-[0-9a-f]{10}: failed \(BackoffLimitExceeded: Job has reached the "
                     r"specified backoff limit\)", failed.output), failed.output[-3000:]
    assert re.search(r"ERROR: Pod gitlab/gitlab-init-[0-9a-f]{10}-\w+: container prepare-database failed with exit "
                     r"code 3 \(Error\)", failed.output)
    assert 'psql: ERROR:  permission denied to create extension \\"amcheck\\"' in failed.output
    # GitLab is not touched while its database is not prepared.
    assert not [w for w in failed.writes() if "/deployments/gitlab" in w and "redis" not in w and "postgresql" not in w]


def test_a_redis_that_never_gets_ready_fails_with_the_doctors_findings(scenario: dict[str, Run]) -> None:
    broken = scenario["redis_broken"]
    assert broken.returncode != 0
    assert ("gitlab-redis, gitlab-postgresql not Ready after 3s (gitlab-redis: 0 of 1 updated replicas are available)"
            in broken.output), broken.output[-3000:]
    assert "FAILED - RETRYING" in broken.output
    # The doctor's findings: the Deployment, its pod's image, and what to do.
    assert re.search(r"ERROR: Deployment gitlab/gitlab-redis: 0 of 1 pods available .*ImagePullBackOff: Back-off "
                     r'pulling image \\"redis:7.2.5-broken\\"', broken.output)
    assert re.search(r"ERROR: Pod gitlab/gitlab-redis-[-\w]+: container redis image redis:7.2.5-broken cannot be pulled "
                     r"\(ImagePullBackOff\)", broken.output)
    assert re.search(r"FIX Pod gitlab/gitlab-redis-[-\w]+: Correct the image name or tag", broken.output)


def test_absent_removes_the_workloads_and_keeps_claims_and_secrets(scenario: dict[str, Run]) -> None:
    absent = scenario["absent"]
    assert absent.returncode == 0, absent.output[-3000:]
    left = {kind: sorted(o["metadata"]["name"] for o in objects) for kind, objects in absent.objects.items()}
    assert left["Deployment"] == [] and left["Service"] == [] and left["Job"] == []
    # The database stays prepared: so does the record of its init Job.
    assert left["ConfigMap"] == ["gitlab-init-completed"]
    assert left["PersistentVolumeClaim"] == ["gitlab-data", "gitlab-postgresql-data", "gitlab-redis-data"]
    assert left["Secret"] == ["gitlab-postgresql-admin-password", "gitlab-postgresql-password", "gitlab-redis-password",
                              "gitlab-root-password"]


def test_passwords_never_appear_in_the_output(scenario: dict[str, Run]) -> None:
    secrets = [r.body for run in scenario.values() for r in run.requests
               if r.method in ("POST", "PATCH") and re.search(r"/secrets(/|$)", r.path) and isinstance(r.body, dict)]
    passwords = {base64.b64decode(s["data"]["password"]).decode() for s in secrets if "data" in s}
    # Four generated (root, GitLab's database role, the database superuser, Redis), one rotated.
    assert len(passwords) == 5 and ROTATED_REDIS_PASSWORD in passwords
    for name, run in scenario.items():
        for password in passwords:
            assert password not in run.output, f"a password appears in the output of the {name} run"
