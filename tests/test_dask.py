"""Dask: the local cluster listens on loopback only, with no dashboard and TLS (a process without
its throwaway certificate cannot join it and run code on the workers); a shared cluster can
require certificates (``tls://`` with ``--tls-ca-file/--tls-cert/--tls-key``); bad addresses and
certificate options are one-line errors, for a sweep as for a tournament (which runs on a cluster
as a sweep does, with the same results)."""

from __future__ import annotations

import psutil
import pytest
from clitools import one_error_line, run_cli
from distributed import WorkerPlugin

from strategy_abm.experiments.experiment import experiments_dir
from strategy_abm.experiments.results import load_results, load_series
from strategy_abm.experiments.sweep import _dask_client, local_cluster

SMOKE = experiments_dir() / "smoke.toml"
TOURNAMENT = experiments_dir() / "tournament_us_vs_china.toml"
# A small tournament (2 x 3 profiles x 3 seeds of 6 turns) for the runs on a cluster.
SMALL_TOURNAMENT = """
name = "small"
horizon_turns = 6
seeds = 3
master_seed = 5
batch_size = 2

[roles.china]
strategies = ["bri_2", "greedy"]

[roles.us]
strategies = ["pgii_asymmetric", "random", { name = "parametric", label = "all_in", params = { spend_share = 1.0 } }]
"""


def _listening(pids: set[int]) -> list[tuple[str, int]]:
    return [(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]  # fmt: skip


def test_local_cluster_is_loopback_tls_and_has_no_dashboard():
    from distributed import Client

    me = psutil.Process()
    with _dask_client("local", 2) as client:
        address = client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        pids = {me.pid, *(p.pid for p in me.children(recursive=True))}
        listening = _listening(pids)
        assert listening, "no listening socket found for the cluster"
        assert all(ip == "127.0.0.1" for ip, _ in listening), listening
        assert 8787 not in {port for _, port in listening}  # Dask's dashboard port
        assert not _serves_dashboard(client)
        # Another process on this machine, without the cluster's certificate, cannot connect.
        with pytest.raises((TypeError, OSError, ValueError)):
            Client(address, timeout=3)


def _serves_dashboard(client) -> bool:
    import urllib.error
    import urllib.request

    port = client.scheduler_info()["services"].get("dashboard")
    if port is None:
        return False
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=3)  # noqa: S310 - loopback
    except urllib.error.HTTPError as exc:
        return exc.code != 404
    return True


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    """A two-worker cluster that requires TLS client certificates, with its PEM files on disk
    (as a shared cluster's administrator would hand them out)."""
    from distributed.security import Security

    security = Security.temporary()
    folder = tmp_path_factory.mktemp("certs")
    (folder / "ca.pem").write_text(security.tls_ca_file)
    (folder / "client.pem").write_text(security.tls_client_cert)
    (folder / "client.key").write_text(security.tls_client_key)
    with local_cluster(2, security=security) as cluster:
        yield cluster.scheduler_address, folder


def test_sweep_on_a_tls_cluster_with_certificates_equals_a_local_sweep(tls_cluster, tmp_path):
    address, certs = tls_cluster
    assert address.startswith("tls://")
    code, _, stderr = run_cli("sweep", SMOKE, "--out", tmp_path / "tls", "--quiet", "--scheduler", address,
                              "--tls-ca-file", certs / "ca.pem", "--tls-cert", certs / "client.pem",
                              "--tls-key", certs / "client.key")  # fmt: skip
    assert code == 0, stderr
    code, _, stderr = run_cli("sweep", SMOKE, "--out", tmp_path / "here", "--quiet")
    assert code == 0, stderr
    ref = load_results(tmp_path / "here")
    assert len(ref) == 6
    assert ref.equals(load_results(tmp_path / "tls"))
    assert load_series(tmp_path / "here").equals(load_series(tmp_path / "tls"))


def test_a_tournament_on_a_dask_cluster_equals_one_on_local_workers(tls_cluster, tmp_path):
    import pandas as pd

    address, certs = tls_cluster
    path = tmp_path / "small.toml"
    path.write_text(SMALL_TOURNAMENT)
    before = _batches_computed(address, certs)
    code, stdout, stderr = run_cli("tournament", path, "--out", tmp_path / "dask", "--quiet", "--scheduler", address,
                                   "--tls-ca-file", certs / "ca.pem", "--tls-cert", certs / "client.pem",
                                   "--tls-key", certs / "client.key")  # fmt: skip
    assert code == 0, stderr
    assert "6 profiles x 3 seeds: 18 runs done, 0 already stored, 0 failed, of 18" in stdout
    assert _batches_computed(address, certs) - before == 9  # every batch of 2 runs played on the cluster
    code, _, stderr = run_cli("tournament", path, "--out", tmp_path / "here", "--quiet", "--workers", "2")
    assert code == 0, stderr
    here, there = tmp_path / "here", tmp_path / "dask"
    assert len(load_results(here)) == 18
    assert load_results(here).equals(load_results(there))
    assert load_series(here).equals(load_series(there))
    for table in ("samples", "profiles", "rankings"):  # the tournament's own tables, bit for bit
        a, b = (pd.read_parquet(folder / "tournament" / f"{table}.parquet") for folder in (here, there))
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def _batches_computed(address: str, certs) -> int:
    """How many batches (``run_batch`` tasks) the cluster's workers have finished so far."""
    from distributed import Client
    from distributed.security import Security

    security = Security(tls_ca_file=str(certs / "ca.pem"), tls_client_cert=str(certs / "client.pem"),
                        tls_client_key=str(certs / "client.key"), require_encryption=True)  # fmt: skip

    def finished(dask_scheduler) -> int:
        prefix = dask_scheduler.task_prefixes.get("run_batch")
        return 0 if prefix is None else int(prefix.state_counts["memory"])

    with Client(address, security=security, timeout=10) as client:
        return client.run_on_scheduler(finished)


@pytest.mark.parametrize("command", [("sweep", SMOKE), ("tournament", TOURNAMENT)], ids=["sweep", "tournament"])
def test_a_tls_cluster_refuses_a_certificate_it_did_not_issue(tls_cluster, tmp_path, command):
    from distributed.security import Security

    address, certs = tls_cluster
    other = Security.temporary()  # a valid certificate, from another authority
    (tmp_path / "ca.pem").write_text(other.tls_ca_file)
    (tmp_path / "c.pem").write_text(other.tls_client_cert)
    (tmp_path / "c.key").write_text(other.tls_client_key)
    out = tmp_path / "out"
    code, _, stderr = run_cli(*command, "--out", out, "--quiet", "--scheduler", address,
                              "--tls-ca-file", tmp_path / "ca.pem", "--tls-cert", tmp_path / "c.pem",
                              "--tls-key", tmp_path / "c.key")  # fmt: skip
    assert code == 2
    assert f"--scheduler: cannot reach {address!r}" in one_error_line(stderr)
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--scheduler", "foo://x:1"], "--scheduler"),
        (["--scheduler", "tcp://"], "--scheduler"),
        (["--scheduler", "tcp://host"], "--scheduler"),
        (["--scheduler", "tcp://:8786"], "--scheduler"),
        (["--scheduler", "tcp://host:99999"], "--scheduler"),
        (["--scheduler", "tls://127.0.0.1:8786"], "--tls-ca-file"),
        (
            ["--scheduler", "tls://127.0.0.1:8786", "--tls-ca-file", "@CERT", "--tls-cert", "@TMP/none.pem"],
            "--tls-cert",
        ),
        (["--scheduler", "tls://127.0.0.1:8786", "--tls-ca-file", "@CERT"], "--tls-cert"),
        (["--tls-ca-file", "@CERT", "--tls-cert", "@CERT"], "--tls-ca-file"),
        (["--scheduler", "local", "--tls-ca-file", "@CERT", "--tls-cert", "@CERT"], "--tls-ca-file"),
        (["--scheduler", "tcp://127.0.0.1:8786", "--tls-ca-file", "@CERT", "--tls-cert", "@CERT"], "--tls-ca-file"),
    ],
    ids=[
        "scheme",
        "no_host",
        "no_port",
        "empty_host",
        "port_range",
        "tls_without_certs",
        "missing_cert_file",
        "cert_missing",
        "certs_without_scheduler",
        "certs_with_local",
        "certs_with_tcp",
    ],  # fmt: skip
)
@pytest.mark.parametrize("command", [("sweep", SMOKE), ("tournament", TOURNAMENT)], ids=["sweep", "tournament"])
def test_bad_scheduler_and_certificate_options_are_one_line_errors(tmp_path, options, field, command):
    cert = tmp_path / "cert.pem"
    cert.write_text("not really a certificate\n")
    options = [o.replace("@CERT", str(cert)).replace("@TMP", str(tmp_path)) for o in options]
    out = tmp_path / "out"
    code, _, stderr = run_cli(*command, "--out", out, "--quiet", *options)
    assert code == 2
    assert field in one_error_line(stderr)
    assert not out.exists()


def test_unusable_certificate_files_are_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    out = tmp_path / "out"
    code, _, stderr = run_cli("sweep", SMOKE, "--out", out, "--quiet", "--scheduler", "tls://127.0.0.1:9",
                              "--tls-ca-file", bad, "--tls-cert", bad)  # fmt: skip
    assert code == 2
    assert "--scheduler" in one_error_line(stderr)
    assert not out.exists()


class _DieOnThirdTask(WorkerPlugin):
    """A Dask worker plugin: the worker kills itself (SIGKILL) when its third task starts, as a
    worker killed by the kernel for lack of memory would die."""

    name = "die-on-third-task"

    def setup(self, worker):
        self.started = 0

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing":
            self.started += 1
            if self.started == 3:
                import os
                import signal

                os.kill(os.getpid(), signal.SIGKILL)


def test_a_dask_worker_that_dies_is_one_line_exit_3_and_resume_completes(tmp_path):
    import dask
    from distributed import Client

    from strategy_abm.experiments.experiment import load_experiment
    from strategy_abm.experiments.results import ResultStore
    from strategy_abm.experiments.sweep import _run_dask, run_sweep
    from strategy_abm.report.folders import FaultError

    experiment = load_experiment(SMOKE)
    out = tmp_path / "out"
    # One failure allowed, no retry: the batch on the dying worker is given up at once.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            local_cluster(1, security=None) as cluster, Client(cluster) as client:  # fmt: skip
        client.register_plugin(_DieOnThirdTask())
        store = ResultStore(out, experiment)
        with pytest.raises(FaultError) as caught:
            run_sweep(experiment, store, progress=False, executor=lambda t, c: _run_dask(client, t, c))
    message = str(caught.value)
    assert "a Dask worker died" in message and "--resume" in message, message
    assert "\n" not in message
    stored = len(load_results(out))
    assert f"{stored} runs are stored" in message
    # The batches (one run each) finished before the worker died are stored; the nanny restarts the
    # worker (its plugin counting from zero again), so on a loaded machine a few more batches may
    # finish before the driver sees the failure: some runs stored, never all of them.
    assert 1 <= stored < experiment.n_runs
    code, _, stderr = run_cli("sweep", SMOKE, "--out", out, "--quiet", "--resume")
    assert code == 0, stderr
    code, _, stderr = run_cli("sweep", SMOKE, "--out", tmp_path / "ref", "--quiet")
    assert code == 0, stderr
    assert load_results(out).equals(load_results(tmp_path / "ref"))
