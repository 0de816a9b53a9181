"""Config loading: strict validation, errors that name file, line and key, discovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.config import discover_config, load_config
from cockpit.errors import ConfigError

from .conftest import BASE_CONFIG


def error_text(exc: ConfigError) -> str:
    return exc.render()


def test_sample_config_is_valid():
    from .conftest import REPO

    loaded = load_config(REPO / "sample-configs" / "servicedesk.toml")
    assert loaded.model.default_environment == "staging"
    assert loaded.environment("production").production is True
    assert loaded.checklist_path.exists()


def test_misspelt_key_names_file_line_path_and_suggestion(write_config):
    path = write_config(
        BASE_CONFIG
        + """
[[environments.production.clusters]]
name = "prod"
kubeconfg = "~/.kube/prod"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = error_text(caught.value)
    line = path.read_text().splitlines().index('kubeconfg = "~/.kube/prod"') + 1
    assert f"{path}:{line}: environments.production.clusters[0].kubeconfg: unknown key" in text
    assert "did you mean 'kubeconfig'?" in text


def test_misspelt_top_level_and_nested_table_keys(write_config):
    path = write_config(
        BASE_CONFIG.replace("default_environment", "default_enviroment")
        + """
[environments.production.prometheus]
url = "https://prom.example.com"
timout = 5
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = error_text(caught.value)
    assert "default_enviroment: unknown key; did you mean 'default_environment'?" in text
    assert "environments.production.prometheus.timout: unknown key; did you mean 'timeout'?" in text
    assert "2 problems" in text


def test_a_secret_value_in_the_file_is_refused_without_echoing_it(write_config):
    secret = "sk_live_0123456789abcdef-not-a-name"
    path = write_config(
        BASE_CONFIG
        + f"""
[environments.production.prometheus]
url = "https://prom.example.com"
token_env = "{secret}"

[environments.production.errors]
provider = "sentry"
org = "acme"
token = "{secret}"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = error_text(caught.value)
    assert secret not in text
    assert "token_env: must be the NAME of an environment variable" in text
    assert "errors.token: unknown key" in text
    assert "use token_env or token_file" in text


def test_missing_secret_variable_is_named_by_validate(write_config, monkeypatch):
    monkeypatch.delenv("SHOP_PROM_TOKEN", raising=False)
    path = write_config(
        BASE_CONFIG
        + """
[environments.production.prometheus]
url = "https://prom.example.com"
token_env = "SHOP_PROM_TOKEN"
"""
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "--config", str(path), "--env", "production"])
    assert result.exit_code == 2, result.output
    assert "environment variable SHOP_PROM_TOKEN is not set" in result.output
    monkeypatch.setenv("SHOP_PROM_TOKEN", "s3cret-value")
    result = runner.invoke(cli, ["validate", "--config", str(path), "--env", "production"])
    assert result.exit_code == 0, result.output
    assert "s3cret-value" not in result.output


def test_toml_syntax_error_gives_the_line(write_config):
    path = write_config(BASE_CONFIG + "\n[environments.broken\nlabel = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "not valid TOML" in caught.value.message
    assert "line 11" in caught.value.message


def test_wrong_types_and_missing_keys_are_reported_with_paths(write_config):
    path = write_config(
        """
default_environment = "nope"
[environments.a]
production = "yes please"
[[environments.a.clusters]]
namespace = "x"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = error_text(caught.value)
    assert "checklist: required key is missing" in text
    assert "environments.a.production: Input should be a valid boolean" in text
    assert "environments.a.clusters[0].name: required key is missing" in text


def test_unknown_environment_gets_a_suggestion(write_config):
    loaded = load_config(write_config())
    with pytest.raises(ConfigError) as caught:
        loaded.environment_name("prodcution")
    assert "did you mean 'production'?" in caught.value.hint
    assert loaded.environment_name(None) == "staging"


def test_discovery_order(tmp_path, monkeypatch, write_config):
    path = write_config()
    other = tmp_path / "other.toml"
    other.write_text(path.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
    assert discover_config(None) == tmp_path / "cockpit.toml"
    monkeypatch.setenv("COCKPIT_CONFIG", str(other))
    assert discover_config(None) == other
    assert discover_config("explicit.toml").name == "explicit.toml"
    monkeypatch.delenv("COCKPIT_CONFIG")
    (tmp_path / "cockpit.toml").unlink()
    with pytest.raises(ConfigError, match="no configuration found"):
        discover_config(None)


def test_relative_paths_are_relative_to_the_config_file(write_config, tmp_path, monkeypatch):
    path = write_config(BASE_CONFIG + '\n[state]\ndirectory = "st"\n')
    monkeypatch.chdir("/")
    loaded = load_config(path)
    assert loaded.checklist_path == tmp_path / "runbook.md"
    assert loaded.state_dir == tmp_path / "st"
    assert loaded.audit_path == tmp_path / ".cockpit" / "audit.jsonl"


def test_schema_command_prints_a_json_schema():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert "environments" in schema["properties"]
    assert schema["additionalProperties"] is False
    cluster = schema["$defs"]["ClusterConfig"]
    assert {"name", "kubeconfig", "context", "namespace", "deployments"} <= set(
        cluster["properties"]
    )


def test_the_schema_lists_every_check_types_keys_told_apart_by_type():
    from cockpit.check_types import CHECK_TYPES
    from cockpit.config import config_json_schema

    schema = config_json_schema()
    entries = schema["properties"]["checks"]["items"]
    assert entries["discriminator"]["propertyName"] == "type"
    by_type = {}
    for ref in entries["oneOf"]:
        definition = schema["$defs"][ref["$ref"].rsplit("/", 1)[-1]]
        assert definition["additionalProperties"] is False
        by_type[definition["properties"]["type"]["const"]] = definition
    assert set(by_type) == set(CHECK_TYPES)
    assert {"host", "port", "sni", "min_days_valid", "ca_file", "item"} <= set(
        by_type["tls"]["properties"]
    )
    assert by_type["tls"]["required"] == ["item", "type", "host"]
    for kind, model in CHECK_TYPES.items():
        assert set(by_type[kind]["properties"]) == set(model.model_fields), kind


def test_every_check_type_has_a_run():
    from cockpit.check_types import CHECK_TYPES
    from cockpit.checks import RUNS

    assert set(RUNS) == set(CHECK_TYPES.values())


def _check_problems(write_config, checks: str) -> tuple[Path, str]:
    path = write_config(BASE_CONFIG + checks)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return path, error_text(caught.value)


def test_a_misspelt_key_of_a_check_type_names_line_path_and_the_nearest_key(write_config):
    path, text = _check_problems(
        write_config,
        """
[[checks]]
item = "Backup taken"
type = "tls"
hots = "shop.example.com"
""",
    )
    line = path.read_text().splitlines().index('hots = "shop.example.com"') + 1
    assert f"{path}:{line}: checks[0].hots: unknown key; did you mean 'host'?" in text
    table = path.read_text().splitlines().index("[[checks]]") + 1
    assert f"{path}:{table}: checks[0].host: required key is missing" in text
    assert "checks[0].tls" not in text  # the type pydantic puts into loc is not a key
    assert "`cockpit schema` prints every valid key" in text


def test_an_unknown_check_type_lists_the_types_and_suggests_the_nearest(write_config):
    path, text = _check_problems(
        write_config,
        """
[[checks]]
item = "Backup taken"
type = "promethues"
query = "up"
""",
    )
    line = path.read_text().splitlines().index('type = "promethues"') + 1
    assert (
        f"{path}:{line}: checks[0].type: unknown check type 'promethues'; did you mean "
        "'prometheus'? (types: command, dns, errors, http, kube, postgres, prometheus, redis, "
        "smtp, tcp, tls)" in text
    )


def test_a_check_without_a_type_lists_the_types(write_config):
    _, text = _check_problems(write_config, '\n[[checks]]\nitem = "Backup taken"\n')
    assert "checks[0].type: required key is missing; the check types: command, dns," in text


def test_a_misspelt_type_key_is_named(write_config):
    _, text = _check_problems(
        write_config, '\n[[checks]]\nitem = "Backup taken"\ntpye = "tls"\nhost = "shop"\n'
    )
    assert (
        "checks[0].type: required key is missing ('tpye' is not a key: did you mean 'type'?); "
        "the check types: command, dns," in text
    )


def test_a_key_of_another_check_type_lists_the_keys_this_type_has(write_config):
    _, text = _check_problems(
        write_config,
        """
[[checks]]
item = "Backup taken"
type = "tcp"
host = "db"
port = 5432
expect_addresses = ["10.0.0.1"]
""",
    )
    assert (
        "checks[0].expect_addresses: unknown key; valid keys here: environments, host, item, "
        "port, suggested, timeout, type" in text
    )


def test_a_password_in_a_check_names_the_references_to_use(write_config):
    _, text = _check_problems(
        write_config,
        """
[[checks]]
item = "Backup taken"
type = "redis"
url = "redis://cache:6379/0"
password = "hunter2-but-longer"
""",
    )
    assert "(secrets never go in the file: use password_env or password_file)" in text
    assert "hunter2" not in text


def test_config_and_check_problems_are_reported_together_in_one_pass(write_config):
    _, text = _check_problems(
        write_config,
        """
[environments.production.prometheus]
url = "https://prom.example.com"
timout = 5

[[checks]]
item = "Backup taken"
type = "kube"
what = "rolled-out"

[[checks]]
item = "Backup taken"
type = "http"
url = "https://shop.example.com"
expect_status = "teapot"
""",
    )
    assert "3 problems in the configuration" in text
    assert "environments.production.prometheus.timout: unknown key" in text
    assert "checks[0]: what = 'rolled-out' needs deployment" in text
    assert "checks[1].expect_status: use 200, [200, 204]" in text


def test_a_check_secret_variable_must_be_a_name_and_is_not_echoed(write_config):
    _, text = _check_problems(
        write_config,
        """
[[checks]]
item = "Backup taken"
type = "postgres"
dsn_env = "postgres://app:s3cret-pass@db/shop"
""",
    )
    assert "checks[0].dsn_env: must be the NAME of an environment variable" in text
    assert "s3cret" not in text


def test_validate_reports_unresolvable_check_bindings(write_config):
    path = write_config(
        BASE_CONFIG
        + """
[[checks]]
item = "Backup takn"
type = "command"
argv = ["true"]

[[checks]]
item = "before/backup-taken"
type = "command"
argv = ["true"]
"""
    )
    result = CliRunner().invoke(cli, ["validate", "--config", str(path)])
    assert result.exit_code == 2
    assert "checks[0].item: no item with ID or text 'Backup takn'" in result.output
    assert "checks[1]" not in result.output


KUBECONFIG_TWO_CONTEXTS = """\
apiVersion: v1
kind: Config
current-context: shop-ctx
clusters:
- name: k
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: shop-ctx
  context: {cluster: k, user: u, namespace: shop}
- name: bare-ctx
  context: {cluster: k, user: u}
"""


def test_a_cluster_without_namespace_gets_its_contexts_as_kubectl(write_config, tmp_path):
    (tmp_path / "kube.yaml").write_text(KUBECONFIG_TWO_CONTEXTS)
    path = write_config(
        BASE_CONFIG
        + """
[[environments.production.clusters]]
name = "named"
kubeconfig = "kube.yaml"
context = "shop-ctx"
[[environments.production.clusters]]
name = "current"
kubeconfig = "kube.yaml"
[[environments.production.clusters]]
name = "bare"
kubeconfig = "kube.yaml"
context = "bare-ctx"
[[environments.production.clusters]]
name = "given"
kubeconfig = "kube.yaml"
context = "shop-ctx"
namespace = "other"
"""
    )
    clusters = load_config(path).environment("production").clusters
    assert [(c.name, c.namespace) for c in clusters] == [
        ("named", "shop"),
        ("current", "shop"),  # the current-context's namespace
        ("bare", "default"),
        ("given", "other"),
    ]


def test_validate_refuses_a_context_missing_from_the_kubeconfig(write_config, tmp_path):
    (tmp_path / "kube.yaml").write_text(KUBECONFIG_TWO_CONTEXTS)
    path = write_config(
        BASE_CONFIG
        + """
[[environments.production.clusters]]
name = "prod"
kubeconfig = "kube.yaml"
context = "shop-ctz"
"""
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "--config", str(path), "--env", "production"])
    assert result.exit_code == 2, result.output
    assert "environments.production.clusters[0]: cluster 'prod': context 'shop-ctz'" in (
        result.output
    )
    assert "contexts there: shop-ctx, bare-ctx" in result.output
    assert "Traceback" not in result.output
    path.write_text(path.read_text().replace("shop-ctz", "shop-ctx"))
    result = runner.invoke(cli, ["validate", "--config", str(path), "--env", "production"])
    assert result.exit_code == 0, result.output


def test_two_clusters_with_one_name_are_refused_naming_both_lines(write_config):
    path = write_config(
        BASE_CONFIG
        + """
[[environments.production.clusters]]
name = "eu"
namespace = "a"
[[environments.production.clusters]]
name = "eu"
namespace = "b"
[[environments.staging.clusters]]
name = "eu"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = error_text(caught.value)
    lines = path.read_text().splitlines()
    first = lines.index('name = "eu"') + 1
    second = lines.index('name = "eu"', first) + 1
    assert (
        f"{path}:{second}: environments.production.clusters[1].name: cluster name 'eu' is "
        f"already used by environments.production.clusters[0] ({path}:{first})"
    ) in text
    assert "environments.staging" not in text  # the same name in another environment is fine
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "--config", str(path), "--env", "production"])
    assert result.exit_code == 2 and "already used by" in result.output


# --- workloads by kind ---------------------------------------------------------------------


def _cluster_config(lines: str) -> str:
    return BASE_CONFIG + '\n[[environments.production.clusters]]\nname = "eu"\n' + lines


def test_workloads_by_kind_in_lists_and_as_kubectl_spells_them(write_config):
    path = write_config(
        _cluster_config(
            'deployments = ["web", "deploy/api"]\nstatefulsets = ["db"]\ndaemonsets = ["agent"]\n'
            'workloads = ["sts/queue", "statefulset.apps/cache", "ds/logs", "DaemonSets/metrics",'
            ' "rollout/checkout", "deployment/a.b-c"]\n'
        )
    )
    cluster = load_config(path).environment("production").clusters[0]
    assert [str(r) for r in cluster.targets] == [
        "deployment/web",
        "deployment/api",
        "statefulset/db",
        "daemonset/agent",
        "statefulset/queue",
        "statefulset/cache",
        "daemonset/logs",
        "daemonset/metrics",
        "rollout/checkout",
        "deployment/a.b-c",
    ]
    assert cluster.deployments == ["web", "deploy/api"]  # as written, for older readers
    assert cluster.target("sts/db") == cluster.target("db")
    assert cluster.target("deploy/db") is None and cluster.target("nope") is None


def test_a_plain_deployments_list_is_what_it_was(write_config):
    path = write_config(_cluster_config('deployments = ["web"]\n'))
    cluster = load_config(path).environment("production").clusters[0]
    assert [(r.kind, r.name) for r in cluster.targets] == [("deployment", "web")]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('workloads = ["db"]', "'db': no kind; write it as kubectl does, e.g. deploy/db"),
        ('workloads = ["pod/db"]', "unknown kind 'pod'; write deploy/NAME, sts/NAME"),
        ('statefulsets = ["ds/agent"]', "'ds/agent' is a daemonset, not a statefulset: move it"),
        ('deployments = ["Web"]', "'Web' is not a Kubernetes object name"),
        ('deployments = [""]', "'' is not a Kubernetes object name"),
        ('daemonsets = ["-agent"]', "'-agent' is not a Kubernetes object name"),
        ('daemonsets = ["agent."]', "'agent.' is not a Kubernetes object name"),
        (f'workloads = ["sts/{"a" * 254}"]', "is not a Kubernetes object name"),
        ('workloads = ["sts/"]', "'' is not a Kubernetes object name"),
    ],
)
def test_a_bad_workload_entry_is_refused_naming_its_line(write_config, line, says):
    path = write_config(_cluster_config(line + "\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = error_text(caught.value)
    number = path.read_text().splitlines().index(line) + 1
    assert f"{path}:{number}: environments.production.clusters[0]." in text, text
    assert says in text, text


def test_a_name_at_the_length_limit_is_accepted(write_config):
    longest = "a" * 253
    path = write_config(_cluster_config(f'workloads = ["sts/{longest}"]\n'))
    assert load_config(path).environment("production").clusters[0].targets[0].name == longest


def test_a_workload_listed_twice_is_refused(write_config):
    path = write_config(_cluster_config('deployments = ["db"]\nworkloads = ["sts/db"]\n'))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = error_text(caught.value)
    assert "workload 'db' is listed twice (deployment/db and statefulset/db)" in text, text
    again = write_config(_cluster_config('deployments = ["web", "web"]\n'))
    with pytest.raises(ConfigError, match="problem"):
        load_config(again)


def test_validate_lists_each_clusters_workloads_and_refuses_a_bad_one(write_config):
    good = write_config(
        _cluster_config('deployments = ["web"]\nworkloads = ["sts/db", "rollout/shop"]\n')
    )
    runner = CliRunner()
    said = runner.invoke(cli, ["validate", "-c", str(good), "-e", "production"])
    assert said.exit_code == 0, said.output
    assert "cluster eu: deployment/web, statefulset/db, rollout/shop (read-only)" in said.output
    bad = write_config(_cluster_config('workloads = ["job/nightly"]\n'))
    refused = runner.invoke(cli, ["validate", "-c", str(bad), "-e", "production"])
    assert refused.exit_code == 2
    assert "unknown kind 'job'" in refused.output and "Traceback" not in refused.output


def test_validate_refuses_an_unknown_binding_id_and_suggests_the_nearest(write_config):
    path = write_config(BASE_CONFIG + '\n[keys]\n"checklist.dnoe" = "x"\n"app.help" = "f1"\n')
    result = CliRunner().invoke(cli, ["validate", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert (
        "no binding with the id 'checklist.dnoe'; did you mean 'checklist.done'?" in result.output
    )
    assert "'app.help'" not in result.output  # a real id is fine


def test_validate_refuses_a_remap_onto_another_key_of_the_same_pane(write_config):
    """Textual drops the binding whose key a remap takes: `s` for done left the checklist
    without a skip key, and nothing said so."""
    path = write_config(
        BASE_CONFIG + '\n[keys]\n"checklist.done" = "s"\n"screen.close" = "escape,c"\n'
    )
    result = CliRunner().invoke(cli, ["validate", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert (
        "'checklist.done' = 's' puts 's' on two commands of the checklist pane: "
        "'checklist.skip' (Skip) has it too" in result.output
    )
    assert "'error_detail.copy' (Copy link)" in result.output  # c in the issue view
    assert "'detail.copy_commands' (Copy commands)" in result.output  # and in an item's
    # a swap takes no key from anyone; nor does a key another pane has (it is that pane's)
    swap = write_config(
        BASE_CONFIG + '\n[keys]\n"checklist.done" = "s"\n"checklist.skip" = "d"\n'
        '"checklist.note" = "p"\n'
    )
    result = CliRunner().invoke(cli, ["validate", "--config", str(swap)])
    assert result.exit_code == 0, result.output


def test_validate_takes_an_old_close_id_and_asks_to_rename_it(write_config):
    path = write_config(BASE_CONFIG + '\n[keys]\n"help.close" = "x"\n')
    result = CliRunner().invoke(cli, ["validate", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "keys: 'help.close' is now 'screen.close'" in result.output
    assert "rename the entry" in result.output


def test_validate_refuses_old_close_ids_that_name_different_keys(write_config):
    path = write_config(
        BASE_CONFIG + '\n[keys]\n"help.close" = "x"\n"messages.close" = "y"\n"detail.close" = "x"\n'
    )
    result = CliRunner().invoke(cli, ["validate", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "'help.close' and 'messages.close' are one binding now, 'screen.close'" in result.output
    assert "'help.close' and 'detail.close'" not in result.output  # the same key: no conflict


def test_a_check_type_in_capitals_suggests_its_spelling(write_config):
    _, text = _check_problems(
        write_config, '\n[[checks]]\nitem = "Backup taken"\ntype = "TLS"\nhost = "shop"\n'
    )
    assert "checks[0].type: unknown check type 'TLS'; did you mean 'tls'?" in text
