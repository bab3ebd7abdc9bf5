"""The command line as an operator meets it: help anywhere, one-line errors, output that fits the terminal,
``draco package`` refusing what bootstrap hasn't written, and ``pip install -e .``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from chalicelib_shared import config as cfg
from draco import demo, outputs, package
from draco.bench.soak import SoakRun
from draco.bench.soak import _table as soak_table
from draco.cli import main

REPO = Path(__file__).resolve().parent.parent
STALE = "no-such-profile"


def draco(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m draco ARGS`` in a fresh process, with the checkout on the path and ``env`` added."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "draco", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300
    )


def assert_one_line(err: str, *fragments: str) -> None:
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


# --------------------------------------------------------------------------- help, whatever the environment


def test_help_of_every_command_works_with_a_stale_profile_and_imports_neither_moto_nor_chalice() -> None:
    top = draco("--help", AWS_PROFILE=STALE)
    assert top.returncode == 0 and "Traceback" not in top.stderr
    names = ["demo", "bootstrap", "plan", "soak", "status", "jobs", "retry", "backfill", "package", "bench"]
    assert all(f"    {name}" in top.stdout for name in names)
    probe = (
        "import sys\n"
        "from draco.cli import main\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        main([name, '--help'])\n"
        "    except SystemExit as done:\n"
        "        assert done.code == 0, (name, done.code)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'moto', 'chalice', 'time_machine'}))\n"
        "print('draco.world.core' in sys.modules)\n"
    )
    environ = {**os.environ, "PYTHONPATH": str(REPO), "AWS_PROFILE": STALE}
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=environ, capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.splitlines()[-2:] == ["[]", "False"]


def test_a_command_that_meets_a_stale_profile_says_so_in_one_line(aws_credentials, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_PROFILE", STALE)
    assert main(["jobs", "--table", "Jobs"]) == 2
    assert_one_line(capsys.readouterr().err, f"draco: AWS profile '{STALE}' not found")
    assert main(["status", "--table", "Jobs"]) == 2
    assert_one_line(capsys.readouterr().err, f"draco: AWS profile '{STALE}' not found")


# --------------------------------------------------------------------------- fits an 80-column terminal


@pytest.mark.e2e
def test_the_demo_fits_80_columns_and_ignores_a_stale_profile(tmp_path: Path) -> None:
    """The local world is moto: the operator's profile means nothing to it."""
    done = draco("demo", "--days", "2", cwd=tmp_path, COLUMNS="80", AWS_PROFILE=STALE)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) > 20 and "analytics" in done.stdout and "DRACO status" in done.stdout
    too_wide = [line for line in lines if cell_len(line) > 80]
    assert too_wide == []
    assert max(cell_len(line) for line in lines) > 70  # it uses the width it has


def test_a_wide_terminal_shows_more_columns() -> None:
    report = {
        "live": False,
        "sources": [
            {
                "source": "orders",
                "kind": "RDS",
                "policy": "Standard",
                "taken": 3,
                "copied": 3,
                "retained": 3,
                "deleted": 0,
                "would_delete": 0,
                "encrypted": True,
                "key_alias": "alias/DRACO-orders",
                "newest_copy_age_hours": 1.0,
            }
        ],
    }
    narrow, wide = (rendered(demo._table(report, width), width) for width in (80, 160))
    assert "alias/DRACO-orders" in wide and "alias/DRACO-orders" not in narrow
    assert "yes" in narrow and max(map(cell_len, narrow.splitlines())) <= 80


def test_the_soak_table_folds_fault_counts_into_one_cell_on_a_narrow_terminal() -> None:
    runs = [SoakRun(seed=1, taken=4, copied=4), SoakRun(seed=2, taken=4, copied=3, violations=["orders-1 lost"])]
    for run in runs:
        run.injected.update({"AWS InternalFailure": 7, "AWS ServiceUnavailable": 10, "dropped": 12, "runs retried": 3})
    narrow, wide = (rendered(soak_table(runs, width), width) for width in (80, 200))
    narrow_header, wide_header = narrow.splitlines()[1], wide.splitlines()[1]
    assert max(map(cell_len, narrow.splitlines())) <= 80 and "injected" in narrow_header
    assert "ServiceUnavailable 10," in narrow and "orders-1 lost" in narrow
    assert "injected" not in wide_header and "AWS ServiceUnavailable" in wide_header and "orders-1 lost" in wide


def rendered(renderable: object, width: int) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# --------------------------------------------------------------------------- output paths: checked before any work


def test_plan_svg_into_a_missing_folder_is_one_line(capsys) -> None:
    assert main(["plan", "Test", "--days", "3", "--svg", "/missing/dir/x.svg"]) == 2
    captured = capsys.readouterr()
    assert_one_line(captured.err, "draco plan: cannot write /missing/dir/x.svg: there is no folder /missing/dir")
    assert captured.out == ""  # refused before the calendar


@pytest.mark.parametrize("option", ["--log", "--html"])
def test_demo_refuses_an_unwritable_path_before_the_simulation(option: str, monkeypatch, capsys) -> None:
    monkeypatch.setattr(demo, "simulate", lambda *args: pytest.fail("the simulation ran"))
    assert main(["demo", "--days", "1", option, "/missing/x.out"]) == 2
    assert_one_line(capsys.readouterr().err, "draco demo: cannot write /missing/x.out: there is no folder /missing")


@pytest.mark.parametrize(
    "region, message",
    [("mars", "'mars' is not an AWS Region name"), ("xx-nowhere-9", "'xx-nowhere-9' is not an AWS Region botocore")],
)
def test_demo_refuses_a_dr_region_it_cant_make_before_the_simulation(region, message, monkeypatch, capsys) -> None:
    monkeypatch.setattr(demo, "simulate", lambda *args: pytest.fail("the simulation ran"))
    assert main(["demo", "--days", "1", "--dr-region", region]) == 2
    assert_one_line(capsys.readouterr().err, f"draco demo: --dr-region {message}")


@pytest.mark.parametrize(
    ("option", "path", "message"),
    [
        ("--log", "/proc/x.log", "draco demo: cannot write /proc/x.log: No such file or directory"),
        ("--html", "/proc/x.html", "draco demo: cannot write /proc/x.html: No such file or directory"),
        ("--html", "a" * 300 + ".html", "draco demo: cannot write " + "a" * 300 + ".html: File name too long"),
        ("--log", "/missing/x.log", "draco demo: cannot write /missing/x.log: there is no folder /missing"),
    ],
)
def test_demo_refuses_an_output_it_cant_write_before_the_simulation(
    option: str, path: str, message: str, monkeypatch, capsys
) -> None:
    """Once tracebacks after the whole demo (or at its start, for --log); now one line, before anything runs."""
    monkeypatch.setattr(demo, "simulate", lambda *args: pytest.fail("the simulation ran"))
    assert main(["demo", "--days", "1", option, path]) == 2
    assert_one_line(capsys.readouterr().err, message)


def test_an_output_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(outputs.OutputError, match="it is a folder"):
        outputs.check_writable(tmp_path)
    assert outputs.check_writable(tmp_path / "new.html") == tmp_path / "new.html"
    assert not (tmp_path / "new.html").exists()  # checking creates nothing


def test_status_html_into_a_missing_folder_is_refused_before_reading_aws(mocked_aws, capsys) -> None:
    # No table exists in this account: had status read AWS first, the error would be about the table.
    assert main(["status", "--table", "Jobs", "--html", "/missing/s.html"]) == 2
    assert_one_line(capsys.readouterr().err, "draco status: cannot write /missing/s.html")


# --------------------------------------------------------------------------- bench: small by default, tables to stdout


@pytest.fixture
def fake_bench(monkeypatch) -> list[tuple[str, object]]:
    """``draco.bench.runner`` measuring nothing: run_all records its arguments, markdown is one line."""
    from draco.bench import runner as bench

    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(bench, "run_all", lambda size, progress=None: calls.append((size, progress)) or {"size": size})
    monkeypatch.setattr(bench, "markdown", lambda results: f"# bench {results['size']}\n")
    return calls


def test_bench_defaults_to_small_and_prints_the_tables(fake_bench, capsys) -> None:
    results_md = REPO / "benchmarks" / "RESULTS.md"
    before = results_md.stat().st_mtime_ns
    assert main(["bench"]) == 0
    assert capsys.readouterr().out == "# bench small\n\n"
    assert fake_bench == [("small", None)]  # no progress display off a terminal
    assert results_md.stat().st_mtime_ns == before


def test_bench_writes_the_tables_only_where_asked(fake_bench, tmp_path: Path, capsys) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["bench", "--size", "full", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert out.read_text() == "# bench full\n" and json.loads(captured.out) == {"size": "full"}
    assert f"wrote {out}" in captured.err


def test_bench_refuses_a_bad_size_or_path_before_running(fake_bench, capsys) -> None:
    assert main(["bench", "--size", "huge"]) == 2
    assert_one_line(capsys.readouterr().err, "draco bench: --size 'huge': choose full or small")
    assert main(["bench", "--out", "/missing/RESULTS.md"]) == 2
    assert_one_line(capsys.readouterr().err, "draco bench: cannot write /missing/RESULTS.md")
    assert fake_bench == []


def test_progress_is_off_with_json_or_off_a_terminal(capsys) -> None:
    assert outputs.progress(quiet=True).disable and outputs.progress().disable  # pytest's stderr is no terminal


# --------------------------------------------------------------------------- draco package


PROD, DR, REGION = "111111111111", "222222222222", "eu-west-1"


def bootstrapped(tmp_path: Path, app: str, env: dict[str, str] | None, policy: dict | None) -> Path:
    """A Chalice project whose stage ``prod`` holds ``env`` and, if given, bootstrap's role and its policy record."""
    app_dir = tmp_path / f"{app}_app"
    (app_dir / ".chalice").mkdir(parents=True)
    stage: dict = {"environment_variables": env or {}}
    if policy is not None:
        (app_dir / ".chalice" / "role-policy-prod.json").write_text(json.dumps(policy))
        (app_dir / ".chalice" / "function-names-prod.json").write_text("{}")
        stage.update(manage_iam_role=False, iam_role_arn=f"arn:aws:iam::{DR}:role/draco-{app}-prod")
    (app_dir / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "stages": {"prod": stage}}))
    return app_dir


def table_policy(region: str, table: str) -> dict:
    arn = f"arn:aws:dynamodb:{region}:{DR}:table/{table}"
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": [arn]}]}


def test_package_refuses_a_stage_bootstrap_has_not_written(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "out")
    empty = bootstrapped(tmp_path / "a", "consumer", None, None)
    assert main(["package", "consumer", "--stage", "prod", "--out", out, "--app-dir", str(empty)]) == 2
    assert_one_line(capsys.readouterr().err, "has no environment variables", "bootstrap consumer --stage prod")
    no_policy = bootstrapped(tmp_path / "b", "consumer", {cfg.SOURCE_ACCTS: PROD}, None)
    assert main(["package", "consumer", "--stage", "prod", "--out", out, "--app-dir", str(no_policy)]) == 2
    assert_one_line(capsys.readouterr().err, "doesn't run as the role bootstrap makes")
    assert main(["package", "consumer", "--stage", "dev", "--out", out, "--app-dir", str(no_policy)]) == 2
    assert_one_line(capsys.readouterr().err, "stage 'dev' is not in")
    assert main(["package", "consumer", "--stage", "prod", "--out", out, "--app-dir", str(tmp_path)]) == 2
    assert_one_line(capsys.readouterr().err, "--app-dir must be the consumer_app folder")
    assert not Path(out).exists()


def test_the_region_comes_from_the_stage_bootstrap_wrote() -> None:
    consumer = {cfg.JOB_TABLE: "Jobs", cfg.SOURCE_ACCTS: PROD}
    assert package.stage_region("consumer", consumer, table_policy(REGION, "Jobs")) == REGION
    assert package.stage_region("consumer", {}, table_policy("us-west-2", cfg.CONSUMER_TABLE)) == "us-west-2"
    producer = {
        cfg.DR_ACCT: DR,  # in DR's Region, another may be
        cfg.TRANSIT_KEY_ARN: f"arn:aws:kms:{REGION}:{PROD}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        cfg.JOB_TABLE: "Jobs",
    }
    assert package.stage_region("producer", producer, {"Statement": []}) == REGION
    with pytest.raises(package.ops.OperatorError, match=r"several Regions \(eu-west-1, us-east-1\)"):
        package.stage_region("producer", producer, table_policy("us-east-1", "Jobs"))
    with pytest.raises(package.ops.OperatorError, match="name no Region"):
        package.stage_region("consumer", consumer, table_policy(REGION, "OtherTable"))


def test_a_clean_copy_resolves_the_vendor_symlink_and_leaves_bytecode_and_deployments_out(tmp_path: Path) -> None:
    app = tmp_path / "src" / "producer_app"
    (app / ".chalice" / "deployments").mkdir(parents=True)
    (app / ".chalice" / "deployments" / "old.zip").write_text("zip")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "app.cpython-311.pyc").write_text("")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "code.py").write_text("X = 1\n")
    (app / "vendor").mkdir()
    (app / "vendor" / "chalicelib_shared").symlink_to(tmp_path / "shared")
    (app / "app.py").write_text("")
    copy = package.clean_copy(app, tmp_path / "dest")
    files = sorted(str(p.relative_to(copy)) for p in copy.rglob("*"))
    assert files == [".chalice", "app.py", "vendor", "vendor/chalicelib_shared", "vendor/chalicelib_shared/code.py"]
    assert not (copy / "vendor" / "chalicelib_shared").is_symlink()


# --------------------------------------------------------------------------- pip install -e .


@pytest.mark.packaging
def test_an_editable_install_gives_a_draco_command_that_works_from_any_folder(tmp_path: Path) -> None:
    """Into a throwaway venv that borrows this one's packages (offline: no build isolation, no dependencies)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet"]
    done = subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(REPO)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    helped = subprocess.run(
        [venv / "bin" / "draco", "--help"], cwd=elsewhere, env=environ, capture_output=True, text=True
    )
    assert helped.returncode == 0 and helped.stdout.startswith("usage: draco "), helped.stderr
    # The checkout's app folders are found from elsewhere.
    refused = subprocess.run(
        [venv / "bin" / "python", "-m", "draco", "package", "producer", "--stage", "nope", "--out", "x"],
        cwd=elsewhere,
        env=environ,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert_one_line(refused.stderr, f"stage 'nope' is not in {REPO / 'producer_app' / '.chalice' / 'config.json'}")


@pytest.mark.packaging
def test_a_plain_install_has_its_dependencies_and_runs_the_demo_from_any_folder(tmp_path: Path) -> None:
    """pip install . (not editable): the dependencies are declared and the apps travel as package data."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet"]
    done = subprocess.run([*pip, "--no-deps", "--no-build-isolation", str(REPO)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = str(venv / "bin" / "python")
    needs = "import importlib.metadata as m; print(m.requires('draco'))"
    declared = subprocess.run([python, "-c", needs], cwd=elsewhere, env=environ, capture_output=True, text=True)
    for name in ("aws-lambda-powertools", "boto3", "chalice", "moto", "rich", "time-machine"):
        assert name in declared.stdout, declared.stdout + declared.stderr
    where = subprocess.run(
        [python, "-c", "import producer_app, draco; print(draco.__file__, producer_app.__path__[0])"],
        cwd=elsewhere,
        env=environ,
        capture_output=True,
        text=True,
    )
    assert str(REPO) not in where.stdout and str(site) in where.stdout, where.stdout + where.stderr
    demo = subprocess.run(
        [venv / "bin" / "draco", "demo", "--days", "2", "--json"],
        cwd=elsewhere,
        env=environ,
        capture_output=True,
        text=True,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    report = json.loads(demo.stdout)
    assert report["transit_left"] == 0 and sum(row["copied"] for row in report["sources"]) > 0
