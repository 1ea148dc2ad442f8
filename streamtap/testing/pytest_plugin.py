"""pytest plugin (entry point ``streamtap``): cassettes per test, pytest-recording style.

``@pytest.mark.cassette`` (or the ``cassette`` fixture) replays the test's HTTP
traffic from ``cassettes/<module>/<test>.json`` next to the test file;
``--record-mode`` records it. When pytest-recording is installed too, both share
its ``--record-mode`` option, so one flag records every cassette kind.

Load order matters: respx's own plugin imports the real ``httpx``, which makes
the ``httpx`` -> ``httpx2`` alias impossible. Loading this plugin installs the
alias (``install_httpx_alias()``, the plugin's one act at load time) when it loads
first; if it loads too late, a warning names the fix (``-p streamtap`` in
``addopts``) and cassette tests fail with it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from streamtap.testing._alias import alias_problem, install_httpx_alias

if TYPE_CHECKING:
    from streamtap.testing.cassette import Cassette

# At plugin load, before respx's plugin can import the real httpx; respx loads only on use.
install_httpx_alias()

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
"""pytest-recording's modes (kept here so the option exists without the extra)."""

_ENTRY_POINT_NAME = "streamtap"
_MARKER_HELP = (
    "cassette(name=None, *, pace='instant', match_on=None, redact=None, record_mode=None): "
    "replay this test's HTTP traffic from a streamtap cassette (record it with --record-mode)"
)
_CALL_ERROR = pytest.StashKey[BaseException]()
_UNSAFE_NAME_CHARACTERS = "<>?%*:|\"'/\\"


def _pytest_recording_provides_record_mode(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-recording is or will be registered, so ``--record-mode`` is taken."""
    if pluginmanager.has_plugin("recording"):
        return True
    if (
        pluginmanager.is_blocked("recording")
        or importlib.util.find_spec("pytest_recording") is None
    ):
        return False
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    config = pluginmanager.get_plugin("pytestconfig")
    namespace = getattr(config, "known_args_namespace", None)
    return not getattr(namespace, "disable_plugin_autoload", False)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("streamtap", "streamtap streaming cassettes")
    if not _pytest_recording_provides_record_mode(pluginmanager):
        group.addoption(
            "--record-mode",
            action="store",
            default=None,
            choices=RECORD_MODES,
            help='Cassette record mode (default "none": replay only, fail on a missing cassette).',
        )
    group.addoption(
        "--cassette-dir",
        action="store",
        default=None,
        help="Directory for streamtap cassettes (default: cassettes/ next to each test module).",
    )
    parser.addini(
        "cassette_dir",
        help="Directory for streamtap cassettes, relative to the ini file.",
        default="",
    )


def pytest_plugin_registered(
    plugin: object, plugin_name: str, manager: pytest.PytestPluginManager
) -> None:
    """Loaded with ``-p streamtap.testing.pytest_plugin``: keep the entry point from loading it twice."""
    if (
        plugin is sys.modules[__name__]
        and plugin_name != _ENTRY_POINT_NAME
        and not manager.has_plugin(_ENTRY_POINT_NAME)
    ):
        manager.set_blocked(_ENTRY_POINT_NAME)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_HELP)
    problem = alias_problem()
    if problem is not None:
        config.issue_config_time_warning(pytest.PytestConfigWarning(problem), stacklevel=2)


@pytest.fixture
def cassette_config() -> dict[str, Any]:
    """Default ``use_cassette`` keyword arguments (pace, match_on, redact); override in a conftest."""
    return {}


@pytest.fixture
def cassette_dir(request: pytest.FixtureRequest) -> Path:
    """Where this module's cassettes live: ``<dir>/<module name>/``."""
    module_name = request.path.stem
    option = request.config.getoption("cassette_dir")
    if option:
        return Path(option).resolve() / module_name
    ini_value = str(request.config.getini("cassette_dir") or "")
    if ini_value:
        base = request.config.inipath.parent if request.config.inipath else request.config.rootpath
        return (base / ini_value).resolve() / module_name
    return request.path.parent / "cassettes" / module_name


@pytest.fixture
def cassette_name(request: pytest.FixtureRequest) -> str:
    """The test's name (``Class.test_name[param]``), made safe as a file name."""
    name = str(request.node.name)
    if request.cls is not None:
        name = f"{request.cls.__name__}.{name}"
    for character in _UNSAFE_NAME_CHARACTERS:
        name = name.replace(character, "-")
    return name


@pytest.fixture
def cassette(
    request: pytest.FixtureRequest,
    cassette_dir: Path,
    cassette_name: str,
    cassette_config: dict[str, Any],
) -> Iterator[Cassette]:
    """The active cassette for this test (the ``cassette`` marker configures it)."""
    from streamtap.testing import use_cassette  # needs respx only when the cassette starts

    options = dict(cassette_config)
    marker = request.node.get_closest_marker("cassette")
    name = cassette_name
    if marker is not None:
        if marker.args:
            name = str(marker.args[0])
        options.update(marker.kwargs)
        name = str(options.pop("name", None) or name)
    record_mode = options.pop("record_mode", None) or _record_mode(request.config)
    path = Path(name) if Path(name).is_absolute() else cassette_dir / name
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    context = use_cassette(path, record_mode=record_mode, **options)
    active = context.__enter__()
    yield active
    # A test that already failed (say, on the mismatch itself) must not get a second
    # error from teardown; a test that swallowed a mismatch must still fail here.
    error = request.node.stash.get(_CALL_ERROR, None)
    context.__exit__(None if error is None else type(error), error, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "call" and call.excinfo is not None:
        item.stash[_CALL_ERROR] = call.excinfo.value
    return report


def _record_mode(config: pytest.Config) -> Any:
    return config.getoption("record_mode", default=None) or "none"


@pytest.fixture(autouse=True)
def _streamtap_cassette_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("cassette") is not None:
        request.getfixturevalue("cassette")
