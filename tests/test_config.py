"""Scenario configs: validation, sources, dotted overrides, ``extends`` and TOML round trips.

Cases marked ``xfail(strict=True)`` are known bugs: they assert the intended behaviour.
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from strategy_abm.scenario.config import (
    HOST_FIGURES,
    HOST_OPTIONAL_FIGURES,
    ConfigError,
    HostConfig,
    RouteConfig,
    Scenario,
    apply_overrides,
    builtin_scenarios,
    configs_dir,
    known_sources,
    load_scenario,
    parse_override,
    read_scenario_raw,
    read_toml,
    scenario_to_toml,
    validate_scenario,
)
from strategy_abm.scenario.ids import HOSTS, POWERS, ROUTES

REPO = Path(__file__).resolve().parents[1]
BASELINE = builtin_scenarios()["baseline"]
SOURCES_MD_CANDIDATES = [
    Path("/work/shared/calibration/SOURCES.md"),
    REPO.parent / "shared" / "calibration" / "SOURCES.md",
    REPO / "shared" / "calibration" / "SOURCES.md",
]


@pytest.fixture(scope="module")
def baseline_raw() -> dict:
    return read_scenario_raw(BASELINE)


def _raw(baseline_raw: dict) -> dict:
    return copy.deepcopy(baseline_raw)


def _config_error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_scenario(data)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------
# The built-in scenarios


def test_baseline_validates(baseline_raw):
    sc = load_scenario("baseline")
    assert isinstance(sc, Scenario)
    assert sc.name == "baseline"
    assert (sc.start, sc.turns_per_year, sc.horizon_turns) == ("2025Q1", 4, 40)
    assert tuple(sc.powers) == POWERS
    assert tuple(sc.hosts) == HOSTS
    assert tuple(sc.routes) == ROUTES
    for pid, power in sc.powers.items():
        assert set(power.toolkit) <= set(sc.moves), pid
    assert validate_scenario(baseline_raw).model_dump() == sc.model_dump()
    assert load_scenario(BASELINE).model_dump() == sc.model_dump()  # by path as by name


def test_builtin_scenarios_validate():
    names = builtin_scenarios()
    assert {"baseline", "hindcast_2022"} <= set(names)
    assert "sources" not in names and "observations" not in names  # data files, not scenarios
    for name in names:
        assert load_scenario(name).name == name


def test_figures_lists_cover_every_figure():
    """Every world figure of a host or a route is in the list of figures that need a source."""
    not_figures = {"name", "display", "strategy", "strategy_params", "sources"}
    assert set(HostConfig.model_fields) - not_figures == set(HOST_FIGURES) | set(HOST_OPTIONAL_FIGURES)
    raw_routes = tomllib.loads(BASELINE.read_text())["routes"]
    for rid, route in raw_routes.items():  # (a route's `through` is its geography, not a figure)
        assert set(route["sources"]) == set(RouteConfig.model_fields) - {"name", "through", "sources"}, rid


# ---------------------------------------------------------------------------------------------
# Every figure names a source


def _tables_with_sources(raw: dict) -> list[str]:
    tables = [f"{group}.{key}" for group in ("powers", "hosts", "routes") for key in raw[group]]
    return [*tables, "trade", "world", "rules"]


def _table(data: dict, dotted: str) -> dict:
    node = data
    for part in dotted.split("."):
        node = node[part]
    return node


TABLES = [
    *(f"powers.{p}" for p in POWERS),
    *(f"hosts.{h}" for h in HOSTS),
    *(f"routes.{r}" for r in ROUTES),
    "trade",
    "world",
    "rules",
]


def test_tables_list_is_complete(baseline_raw):
    assert sorted(_tables_with_sources(baseline_raw)) == sorted(TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_every_figure_needs_a_source(table, baseline_raw):
    figures = list(_table(baseline_raw, table)["sources"])
    assert figures
    for fig in figures:
        data = _raw(baseline_raw)
        del _table(data, table)["sources"][fig]
        if fig in HOST_OPTIONAL_FIGURES and _table(data, table)[fig] == HostConfig.model_fields[fig].default:
            validate_scenario(data)  # an optional figure at its default (tkm's USD deflator of 0) needs no source
            continue
        message = _config_error(data)
        assert f"{table}.sources.{fig}" in message, message
        assert "missing" in message


@pytest.mark.parametrize("table", ["hosts.kgz", "routes.middle", "powers.us", "trade", "rules"])
@pytest.mark.parametrize(
    "ref",
    ["NOPE", "WB_GDP+NOPE", "wb_gdp", "assumption:", "assumption:no space", "derived:", "", "guess: big"],
)
def test_unknown_source_is_rejected(table, ref, baseline_raw):
    data = _raw(baseline_raw)
    sources = _table(data, table)["sources"]
    fig = next(iter(sources))
    sources[fig] = ref
    message = _config_error(data)
    assert f"{table}.sources.{fig}" in message, message


@pytest.mark.parametrize(
    "ref", ["WB_GDP", "WB_GDP+WB_POP", "WB_GDP; note", "WB_GDP (note)", "assumption: why", "derived: how"]
)
def test_accepted_source_forms(ref, baseline_raw):
    data = _raw(baseline_raw)
    data["hosts"]["kgz"]["sources"]["gdp_usd_bn"] = ref
    assert validate_scenario(data).hosts["kgz"].sources["gdp_usd_bn"] == ref


def test_source_for_no_figure_is_rejected(baseline_raw):
    data = _raw(baseline_raw)
    data["routes"]["middle"]["sources"]["foo"] = "WB_GDP"
    assert "routes.middle.sources.foo" in _config_error(data)


def test_moves_and_events_need_a_source(baseline_raw):
    data = _raw(baseline_raw)
    del data["moves"]["training"]["source"]
    assert "moves.training.source" in _config_error(data)
    data = _raw(baseline_raw)
    data["events"][0]["source"] = "NOPE"
    assert "events.0" in _config_error(data)


# ---------------------------------------------------------------------------------------------
# Dotted overrides


@pytest.mark.parametrize(
    ("text", "keys", "value"),
    [
        ("horizon_turns=12", ["horizon_turns"], 12),
        ("powers.china.budget_usd_bn_per_year=12.5", ["powers", "china", "budget_usd_bn_per_year"], 12.5),
        ("a=-2", ["a"], -2),
        ("a=1e3", ["a"], 1000.0),
        ("a=0x10", ["a"], 16),
        ('a="bri_2"', ["a"], "bri_2"),
        ("a='literal'", ["a"], "literal"),
        ("a=true", ["a"], True),
        ("a=false", ["a"], False),
        ("a=[1, 2.5]", ["a"], [1, 2.5]),
        ("a={ x = 1, y = 'z' }", ["a"], {"x": 1, "y": "z"}),
        ("powers.china.strategy=bri_2", ["powers", "china", "strategy"], "bri_2"),
        ("hosts.kgz.strategy=debt_averse", ["hosts", "kgz", "strategy"], "debt_averse"),
        ("events.0.at=2026Q1", ["events", "0", "at"], "2026Q1"),
        ("a=hosts.{host}.gdp_usd_bn", ["a"], "hosts.{host}.gdp_usd_bn"),
        (" a.b = 7 ", ["a", "b"], 7),
        ("a=  bare  ", ["a"], "bare"),
        ('a=""', ["a"], ""),
    ],
)
def test_parse_override(text, keys, value):
    got_keys, got = parse_override(text)
    assert got_keys == keys
    assert got == value
    assert type(got) is type(value)


def test_parse_override_nan():
    _, value = parse_override("a=nan")
    assert isinstance(value, float) and math.isnan(value)


# Not TOML and not a bare word: an error rather than a string the user did not mean.
@pytest.mark.parametrize(
    "text",
    [
        "horizon_turns",
        "=1",
        " =1",
        "a..b=1",
        "a.=1",
        ".a=1",
        "a=x=y",
        "a=spaced bare",
        "a=",
        'a="open',
        "a=[1, 2",
        "a=1.2.3",
        "a=1\nb = 2",
    ],
)
def test_parse_override_bad_syntax(text):
    with pytest.raises(ConfigError, match=r"^--set "):
        parse_override(text)


def test_apply_overrides_copies_and_sets(baseline_raw):
    before = copy.deepcopy(baseline_raw)
    data = apply_overrides(
        baseline_raw,
        [
            "horizon_turns=12",
            "powers.china.strategy=bri_2",
            "events.0.at=2026Q1",
            "powers.us.strategy_params.spend_share=0.5",
        ],
    )
    assert baseline_raw == before  # the input is not mutated
    assert data["horizon_turns"] == 12
    assert data["powers"]["china"]["strategy"] == "bri_2"
    assert data["events"][0]["at"] == "2026Q1"
    assert data["powers"]["us"]["strategy_params"] == {"spend_share": 0.5}
    assert apply_overrides(baseline_raw, None) == baseline_raw
    assert apply_overrides(baseline_raw, []) == baseline_raw


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("hosts.kgz.gdp_usd_bn.x=1", "hosts.kgz.gdp_usd_bn"),
        ("events.99.at=2026Q1", "events.99"),
        ("events.x.at=2026Q1", "events.x"),
        ("events.0.effects.7=1", "events.0.effects.7"),
    ],
)
def test_apply_overrides_errors_name_the_key(override, field, baseline_raw):
    with pytest.raises(ConfigError) as info:
        apply_overrides(baseline_raw, [override])
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("override", "field"),
    # hosts.abc is a new host (actors are data), which lacks every required figure, its name first.
    [("nosuch.key=1", "nosuch"), ("hosts.abc.strategy=x", "hosts.abc.name"), ("hosts.kgz.foo.bar=1", "hosts.kgz.foo")],
)
def test_overrides_of_unknown_tables_are_rejected_on_validation(override, field):
    """Overrides may create tables a file leaves to defaults; validation rejects unknown ones."""
    with pytest.raises(ConfigError) as info:
        load_scenario("baseline", [override])
    assert str(info.value).startswith(f"{field}: ")


def test_load_scenario_with_overrides():
    sc = load_scenario(
        "baseline",
        [
            "powers.china.strategy=bri_2",
            "hosts.kgz.strategy=debt_averse",
            "horizon_turns=12",
            "powers.china.budget_usd_bn_per_year=12",
            "powers.us.strategy_params.spend_share=0.5",
            'name="tweaked"',
            "rules.failure_hazard=0.1",
        ],
    )
    assert sc.powers["china"].strategy == "bri_2"
    assert sc.hosts["kgz"].strategy == "debt_averse"
    assert sc.horizon_turns == 12
    assert sc.powers["china"].budget_usd_bn_per_year == 12.0
    assert sc.powers["us"].strategy_params == {"spend_share": 0.5}
    assert sc.name == "tweaked"
    assert sc.rules.failure_hazard == 0.1
    assert load_scenario("baseline").horizon_turns == 40  # the base is untouched


def test_load_scenario_overrides_a_scenario_object():
    base = load_scenario("baseline")
    sc = load_scenario(base, ["horizon_turns=8"])
    assert sc.horizon_turns == 8
    assert base.horizon_turns == 40
    assert load_scenario(base) is base


def test_g7_may_play_pgii_asymmetric():
    assert load_scenario("baseline", ["powers.g7.strategy=pgii_asymmetric"]).powers["g7"].strategy == "pgii_asymmetric"


def test_override_reaches_a_defaulted_table():
    sc = load_scenario("baseline", ["hosts.kaz.minerals.antimony.output_t=100"])
    assert sc.hosts["kaz"].minerals["antimony"].output_t == 100.0


# ---------------------------------------------------------------------------------------------
# extends


CHILD = """\
extends = "base.toml"
name = "child"
horizon_turns = 8

[hosts.kgz]
strategy = "debt_averse"

[rules.presence_weights]
trade = 0.5

[[events]]
name = "only_event"
text = "The only event of the child"
at = "2026Q1"
target = "kgz"
effects = [{ path = "hosts.{host}.governance", op = "add", value = 1.0 }]
source = "assumption: test"
"""


@pytest.fixture
def base_and_child(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    base = folder / "base.toml"
    shutil.copyfile(BASELINE, base)
    child = folder / "child.toml"
    child.write_text(CHILD)
    return base, child


def test_extends_merges_tables_and_replaces_lists(base_and_child, tmp_path, monkeypatch):
    base_path, child_path = base_and_child
    monkeypatch.chdir(tmp_path)  # "base.toml" resolves beside the child, not in the working folder
    base = load_scenario(base_path)
    child = load_scenario(child_path)

    assert child.name == "child"
    assert child.horizon_turns == 8
    assert child.description == base.description  # top-level keys not given are inherited
    # Tables merge key by key.
    assert child.hosts["kgz"].strategy == "debt_averse"
    assert child.hosts["kgz"].gdp_usd_bn == base.hosts["kgz"].gdp_usd_bn
    assert child.hosts["kgz"].sources == base.hosts["kgz"].sources
    assert child.hosts["kaz"] == base.hosts["kaz"]
    assert child.rules.presence_weights["trade"] == 0.5
    assert child.rules.presence_weights["debt"] == base.rules.presence_weights["debt"]
    assert child.moves == base.moves
    # Lists are replaced, not appended to.
    assert len(base.events) > 1
    assert [e.name for e in child.events] == ["only_event"]
    assert "extends" not in read_scenario_raw(child_path)


def test_extends_chain_and_builtin_name(base_and_child, tmp_path):
    _, child_path = base_and_child
    grandchild = child_path.parent / "grandchild.toml"
    grandchild.write_text('extends = "child.toml"\nname = "grandchild"\n[hosts.tjk]\nstrategy = "debt_averse"\n')
    sc = load_scenario(grandchild)
    assert (sc.name, sc.horizon_turns) == ("grandchild", 8)
    assert sc.hosts["kgz"].strategy == sc.hosts["tjk"].strategy == "debt_averse"
    assert [e.name for e in sc.events] == ["only_event"]

    by_name = tmp_path / "by_name.toml"
    by_name.write_text('extends = "baseline"\nname = "by_name"\n')
    sc = load_scenario(by_name)
    assert sc.name == "by_name"
    assert sc.model_dump(exclude={"name"}) == load_scenario("baseline").model_dump(exclude={"name"})


def test_overrides_apply_after_extends(base_and_child):
    _, child_path = base_and_child
    sc = load_scenario(child_path, ["horizon_turns=3", "hosts.kgz.strategy=multi_vector"])
    assert sc.horizon_turns == 3
    assert sc.hosts["kgz"].strategy == "multi_vector"


def test_extends_errors(tmp_path):
    loop_a = tmp_path / "a.toml"
    loop_b = tmp_path / "b.toml"
    loop_a.write_text('extends = "b.toml"\n')
    loop_b.write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match=r"^extends: "):
        load_scenario(loop_a)
    self_ref = tmp_path / "self.toml"
    self_ref.write_text('extends = "self.toml"\n')
    with pytest.raises(ConfigError, match=r"^extends: "):
        load_scenario(self_ref)
    not_text = tmp_path / "number.toml"
    not_text.write_text("extends = 3\n")
    with pytest.raises(ConfigError, match=r"^extends: "):
        load_scenario(not_text)


# ---------------------------------------------------------------------------------------------
# scenario_to_toml round trip


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("baseline", []),
        ("hindcast_2022", []),
        (
            "baseline",
            [
                "powers.china.strategy=bri_2",
                "hosts.kgz.strategy=debt_averse",
                "horizon_turns=12",
                "powers.us.strategy_params.spend_share=0.5",
                "powers.china.strategy_params.move_weights.green_tech=2",
                "hosts.kaz.trade_shares.china=0.2135",  # shares then sum to 1.0005: renormalised
            ],
        ),
    ],
)
def test_scenario_to_toml_round_trip(name, overrides, tmp_path):
    sc = load_scenario(name, overrides)
    text = scenario_to_toml(sc)
    path = tmp_path / "resolved.toml"
    path.write_text(text)
    again = load_scenario(path)
    assert again.model_dump() == sc.model_dump()
    assert scenario_to_toml(again) == text  # a fixed point: writing again gives the same text
    assert "extends" not in tomllib.loads(text)


# ---------------------------------------------------------------------------------------------
# configs/sources.toml restates shared/calibration/SOURCES.md


def _sources_md() -> Path:
    for path in SOURCES_MD_CANDIDATES:
        if path.is_file():
            return path
    pytest.skip("shared/calibration/SOURCES.md not found beside the repository")


def _sources_md_table(path: Path) -> dict[str, str]:
    """Id -> title from the table ``| id | title | URL |`` of SOURCES.md."""
    table: dict[str, str] = {}
    header_seen = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            if header_seen and table:
                break  # the table has ended
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0].lower() == "id":
            header_seen = True
            continue
        if not header_seen or re.fullmatch(r"[-: ]+", cells[0]):
            continue
        assert cells[0] not in table, f"duplicate id {cells[0]} in {path}"
        table[cells[0]] = cells[1]
    return table


def _calibration_sources() -> dict[str, str]:
    """configs/sources.toml without the entries marked ``beyond_calibration`` (sources found after
    the calibration set, each with a title and an address)."""
    raw = tomllib.loads((configs_dir() / "sources.toml").read_text())["sources"]
    beyond = {k for k, v in raw.items() if v.get("beyond_calibration")}
    assert all(raw[k]["title"] and raw[k]["url"] for k in beyond)
    return {k: v for k, v in known_sources(str(configs_dir())).items() if k not in beyond}


def test_source_ids_match_sources_md():
    md = _sources_md_table(_sources_md())
    assert len(md) > 50
    assert all(re.fullmatch(r"[A-Z0-9_]+", i) for i in md)
    ours = _calibration_sources()
    assert sorted(set(md) - set(ours)) == [], "ids in SOURCES.md missing from configs/sources.toml"
    # Beyond SOURCES.md only sources cited in a calibration row's note, naming that row's source.
    cited = {k: v.get("cited_in") for k, v in read_toml(configs_dir() / "sources.toml")["sources"].items()}
    assert sorted(k for k in set(ours) - set(md) if cited[k] not in md) == [], "ids not in SOURCES.md"


def test_source_titles_match_sources_md():
    md = _sources_md_table(_sources_md())
    ours = _calibration_sources()
    assert {k: v for k, v in ours.items() if k in md and md[k] != v} == {}
