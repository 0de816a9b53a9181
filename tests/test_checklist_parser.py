"""The Markdown runbook parser: sections, items, steps, commands and stable IDs."""

from __future__ import annotations

import textwrap

import pytest

from cockpit.checklist import parse_checklist
from cockpit.checklist.markdown import block_script, load_checklist
from cockpit.errors import ChecklistError, ConfigError

from .conftest import REFERENCE_CHECKLIST, SAMPLE_RUNBOOK


def parse(text: str):
    return parse_checklist(textwrap.dedent(text))


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE_CHECKLIST.exists():
        pytest.skip(f"needs the reference runbook {REFERENCE_CHECKLIST} (../shared is absent)")
    return load_checklist(REFERENCE_CHECKLIST)


def test_reference_has_every_task_item_with_a_unique_id(reference):
    items = list(reference.items())
    tasks = [i for i in items if i.kind == "manual"]
    assert len(tasks) == 155
    assert len({i.id for i in items}) == len(items)
    assert reference.title == "Production Deployment Checklist"


def test_reference_numbered_steps_and_their_commands(reference):
    steps = {i.text: i for i in reference.items() if i.kind == "step"}
    assert list(steps) == [
        "Database Migration",
        "Build Application",
        "Deploy to Staging",
        "Smoke Tests on Staging",
        "Deploy to Production",
        "Monitor Deployment",
        "Identify Issue",
        "Execute Rollback",
        "Verify Rollback",
        "Post-Mortem",
    ]
    assert steps["Database Migration"].scripts == [
        "npm run migrate:status\nnpm run migrate:run\n",
    ]
    assert steps["Execute Rollback"].scripts == [
        "kubectl rollout undo deployment/servicedesk-app -n servicedesk\n"
    ]
    assert steps["Identify Issue"].notes == [
        "Check Sentry for errors",
        "Check metrics dashboards",
        "Review recent changes",
    ]


def test_reference_tasks_nested_under_steps_belong_to_the_step(reference):
    step = next(i for i in reference.items() if i.text == "Smoke Tests on Staging")
    children = [i for i in reference.items() if i.parent_id == step.id]
    assert [c.text for c in children][:2] == ["Application loads", "Login works"]
    assert len(children) == 7
    assert all(c.kind == "manual" for c in children)


def test_reference_duplicate_texts_get_distinct_ids(reference):
    same = reference.resolve("Secrets encrypted at rest")
    assert len(same) == 2
    assert same[0].id != same[1].id
    assert same[0].id == "pre-deployment/security/secrets-encrypted-at-rest"
    # the section title "Pre-Deployment" appears twice too (top level and under Deployment)
    sections = [s.id for s in reference.all_sections() if s.title == "Pre-Deployment"]
    assert sections == ["pre-deployment", "deployment/pre-deployment"]


def test_reference_code_blocks_that_are_not_under_steps_give_no_items(reference):
    # "# Run load tests" inside a fence is neither a heading nor an item
    titles = [s.title for s in reference.all_sections()]
    assert "Run load tests" not in titles
    texts = [i.text for i in reference.items()]
    assert not any("k6 run" in t for t in texts)
    assert not any("Subject:" in t for t in texts)


def test_ids_survive_unrelated_additions_and_reordering():
    before = parse(
        """
        # Doc
        ## A
        - [ ] first
        - [ ] second
        ## B
        - [ ] third
        """
    )
    after = parse(
        """
        # Doc
        ## New section
        - [ ] brand new
        ## A
        - [ ] inserted
        - [ ] second
        - [ ] first
        ## B
        - [ ] third
        """
    )
    ids_before = {i.text: i.id for i in before.items()}
    ids_after = {i.text: i.id for i in after.items()}
    for text, item_id in ids_before.items():
        assert ids_after[text] == item_id


def test_same_text_twice_in_one_section_is_numbered():
    checklist = parse(
        """
        ## Checks
        - [ ] Ping
        - [ ] Ping
        """
    )
    assert [i.id for i in checklist.items()] == ["checks/ping", "checks/ping--2"]


def test_setext_and_deep_atx_headings_nest():
    checklist = parse(
        """
        Runbook
        =======

        Part one
        --------

        ### Level three
        ###### Level six
        - [ ] deep item

        Part two
        --------
        * [ ] star item
        + [X] plus item done
        """
    )
    assert checklist.title == "Runbook"
    part_one, part_two = checklist.sections
    assert (part_one.title, part_one.level) == ("Part one", 2)
    assert part_one.sections[0].sections[0].title == "Level six"
    deep = part_one.sections[0].sections[0].items[0]
    assert deep.id == "part-one/level-three/level-six/deep-item"
    assert [i.text for i in part_two.items] == ["star item", "plus item done"]
    assert part_two.items[1].done_in_document
    assert not part_two.items[0].done_in_document


def test_nothing_inside_code_blocks_becomes_a_heading_or_item():
    checklist = parse(
        """
        # Doc
        ## Real
        ```markdown
        ## Not a heading
        - [ ] not an item
        ```

            - [ ] indented code, not an item
        - [ ] real item
        """
    )
    assert [s.title for s in checklist.all_sections()] == ["Real"]
    assert [i.text for i in checklist.items()] == ["real item"]


def test_an_opening_h1_is_the_title_and_later_h1s_are_sections():
    checklist = parse(
        """
        # One
        - [ ] a
        # Two
        - [ ] b
        """
    )
    assert checklist.title == "One"
    assert [s.title for s in checklist.sections] == ["One", "Two"]
    assert [i.id for i in checklist.items()] == ["one/a", "two/b"]


def test_an_h1_after_prose_is_a_section_not_the_title():
    checklist = parse(
        """
        Some words first.

        # Deploy
        - [ ] a
        """
    )
    assert checklist.title == "Checklist"
    assert [i.id for i in checklist.items()] == ["deploy/a"]


def test_items_before_the_first_heading_are_kept():
    checklist = parse(
        """
        - [ ] orphan item

        ## Later
        - [ ] later item
        """
    )
    assert [i.text for i in checklist.items()] == ["orphan item", "later item"]


def test_plain_bullets_and_links_are_not_items():
    checklist = parse(
        """
        ## Refs
        - [Docs](docs.md)
        - [ ]not a task without a space
        - plain bullet
        """
    )
    assert list(checklist.items()) == []


def test_inline_markup_is_rendered_as_readable_text():
    checklist = parse(
        """
        ## S
        - [ ] Secrets generated (`openssl rand -hex 32`) with **care**
          across two lines
        """
    )
    item = next(checklist.items())
    assert item.text == "Secrets generated (`openssl rand -hex 32`) with care across two lines"
    assert checklist.resolve("Secrets generated (openssl rand -hex 32) with care across two lines")


def test_numbered_step_with_code_but_no_bold_title_is_a_step():
    checklist = parse(
        """
        ## Deploy
        1. Apply the manifests:
           ```sh
           kubectl apply -f app.yaml
           ```
        2. Just prose, no code
        """
    )
    items = list(checklist.items())
    assert [(i.kind, i.text) for i in items] == [("step", "Apply the manifests:")]
    assert items[0].scripts == ["kubectl apply -f app.yaml\n"]


def test_non_shell_blocks_are_kept_but_are_not_commands():
    checklist = parse(
        """
        ## DB
        1. **Check the schema**
           ```sql
           SELECT 1;
           ```
           ```bash
           psql -c 'select 1'
           ```
        """
    )
    step = next(checklist.items())
    assert [b.language for b in step.blocks] == ["sql", "bash"]
    assert step.scripts == ["psql -c 'select 1'\n"]


def test_a_shell_block_is_kept_whole_as_one_script():
    source = textwrap.dedent(
        """\
        # a comment
        kubectl set image deploy/app \\
          app=image:2
        cat <<'EOF' > /tmp/x
        $ not a prompt inside a here-document
        EOF
        """
    )
    assert block_script(source, "bash") == source
    assert block_script(source, "") == source


def test_a_transcript_runs_only_its_prompt_lines():
    transcript = "$ kubectl get pods\nNAME READY\napp-1 1/1\n$ echo ok \\\n>   more\nok\n"
    expected = "kubectl get pods\necho ok \\\n  more\n"
    assert block_script(transcript, "console") == expected
    assert block_script(transcript, "shell-session") == expected
    # a bash block written as a transcript is one too: `$ ` cannot start a real script
    assert block_script(transcript, "bash") == expected
    assert block_script("NAME READY\n", "console") == ""


def test_sample_runbook_parses_with_steps_commands_and_placeholders():
    checklist = load_checklist(SAMPLE_RUNBOOK)
    steps = [i for i in checklist.items() if i.kind == "step"]
    assert len(steps) >= 4
    rollout = next(s for s in steps if s.text == "Roll out the new image")
    assert rollout.scripts[0].startswith("kubectl -n {namespace} set image")
    assert "app=registry.example.com/servicedesk:{version}" in rollout.scripts[0]


def test_missing_or_binary_runbook_is_a_clear_error(tmp_path):
    with pytest.raises(ChecklistError, match="does not exist"):
        load_checklist(tmp_path / "nope.md")
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ChecklistError, match="not UTF-8"):
        load_checklist(bad)


# --- runbooks as their authors wrote them --------------------------------------------------------

ISSUE_TEMPLATE = """\
---
name: Release checklist
about: Steps for every release
title: "Release {version}"
labels: release
---

# Release 4.2

## Prepare
- [ ] Create a thread: <!-- paste the link here -->
- [ ] Tag the <em>release</em> commit<br>on main
<!--
- [ ] Hidden on GitHub, never an item
-->
- \\[ \\] escaped brackets are text
- [ ]
- [ ] <!-- only a hint -->
"""


def test_front_matter_is_skipped_and_the_opening_h1_is_the_title():
    checklist = parse_checklist(ISSUE_TEMPLATE)
    assert checklist.title == "Release 4.2"
    assert [s.id for s in checklist.all_sections()] == ["prepare"]
    assert [(i.id, i.line) for i in checklist.items()] == [
        ("prepare/create-a-thread", 11),
        ("prepare/tag-the-release-commit-on-main", 12),
    ]


def test_front_matter_title_names_a_document_without_an_h1():
    checklist = parse_checklist(ISSUE_TEMPLATE.replace("# Release 4.2\n", ""))
    assert checklist.title == "Release {version}"
    assert [s.id for s in checklist.all_sections()] == ["prepare"]
    broken = parse_checklist("---\ntitle: [unclosed\n---\n- [ ] a\n")
    assert broken.title == "Checklist"
    assert [i.text for i in broken.items()] == ["a"]


def test_html_comments_and_tags_leave_only_the_text_github_shows():
    items = list(parse_checklist(ISSUE_TEMPLATE).items())
    assert [i.text for i in items] == ["Create a thread:", "Tag the release commit on main"]
    filled = parse_checklist(
        ISSUE_TEMPLATE.replace("<!-- paste the link here -->", "<!-- https://chat/t/1 -->")
    )
    assert [i.id for i in filled.items()] == [i.id for i in items]
    headed = parse("## Deploy <!-- owner: ops --> <b>now</b>\n- [ ] x\n")
    assert [s.title for s in headed.all_sections()] == ["Deploy now"]


def test_task_items_in_comments_or_code_or_escaped_or_empty_never_count():
    checklist = parse(
        """
        ## S
        <!-- - [ ] one-line comment -->
        <!--
        - [ ] hidden in a comment over lines

        - [ ] even past a blank line
        -->
        ```
        - [ ] in code
        ```
        - \\[x\\] escaped
        - [x]
        - [ ] real
        """
    )
    assert [i.text for i in checklist.items()] == ["real"]


def test_a_numbered_task_holding_a_fence_is_a_step_with_its_script():
    checklist = parse(
        """
        ## Rotate
        1. [ ] Rotate the database password
           ```bash
           vault write -f database/rotate-root/app
           ```
        2. [x] Restart the workers
           ```sh
           kubectl rollout restart deploy/worker
           ```
        3. [ ] Tell the team
        """
    )
    items = list(checklist.items())
    assert [(i.kind, i.text, i.done_in_document) for i in items] == [
        ("step", "Rotate the database password", False),
        ("step", "Restart the workers", True),
        ("manual", "Tell the team", False),
    ]
    assert items[0].scripts == ["vault write -f database/rotate-root/app\n"]


def test_bold_lead_ins_in_a_design_document_are_not_steps():
    checklist = parse(
        """
        ## Motivation
        1. **Goals**: cut the time to restore service by half.
        2. **Drawbacks** the cockpit needs a bastion host.
        3. **Non-goals:**
           replacing the pager.
        4. **Apply the migrations**
        5. **Check the pods**:
        """
    )
    assert [(i.kind, i.text, i.notes) for i in checklist.items()] == [
        ("step", "Non-goals:", ["replacing the pager."]),  # the bold line is the title
        ("step", "Apply the migrations", []),
        ("step", "Check the pods:", []),
    ]


def test_a_bold_step_title_keeps_the_lines_under_it_as_its_first_note():
    """`1. **Migrate the schema**` with what to do on the next lines: the title (and the ID)
    is the bold line, the rest a note, not one long title."""
    checklist = parse(
        """
        ## Database
        1. **Migrate the schema**
           Dry run first, *then* apply:
           ```bash
           ./migrate --dry-run
           ```
        2. [ ] **Tell the team**
           in the release channel
        3. **Back up the customer
           database**
           before anything else
        """
    )
    first, second, third = checklist.items()
    # a title wrapped over two lines stays whole: the split is after the bold closes
    assert (third.id, third.text, third.notes) == (
        "database/back-up-the-customer-database",
        "Back up the customer database",
        ["before anything else"],
    )
    assert (first.id, first.text, first.notes) == (
        "database/migrate-the-schema",
        "Migrate the schema",
        ["Dry run first, then apply:"],
    )
    # a task's text is its whole paragraph, as GitHub shows it
    assert second.text == "Tell the team in the release channel"


def test_the_same_text_again_is_numbered_past_any_natural_slug():
    checklist = parse(
        """
        ## Nodes
        - [ ] Drain node
        - [ ] Drain node
        - [ ] Drain node 2
        - [ ] Drain -- node  (3)
        """
    )
    assert [i.id for i in checklist.items()] == [
        "nodes/drain-node",
        "nodes/drain-node--2",
        "nodes/drain-node-2",
        "nodes/drain-node-3",
    ]


def test_two_items_that_would_share_an_id_are_refused_naming_both_lines():
    runbook = textwrap.dedent(
        """\
        ## Deploy
        - [ ] Smoke
          - [ ] Login works

        ### Smoke
        - [ ] Login works
        """
    )
    with pytest.raises(ChecklistError) as refused:
        parse_checklist(runbook)
    message = refused.value.message
    assert "line 3" in message and "line 6" in message
    assert "deploy/smoke/login-works" in message
    assert "reword" in refused.value.hint


def test_duplicate_sections_are_numbered_past_natural_slugs():
    checklist = parse(
        """
        ## Checks
        - [ ] a
        ## Checks 2
        - [ ] a
        ## Checks
        - [ ] a
        """
    )
    assert [i.id for i in checklist.items()] == ["checks/a", "checks-2/a", "checks--2/a"]


JAPANESE = """\
# リリース手順

## 事前確認
- [ ] バックアップを取得する
- [ ] 監視ダッシュボードを開く
- [ ] 🚀
- [ ] Verificação de integridade concluída
"""


def test_non_ascii_texts_get_stable_ids_from_their_words():
    checklist = parse_checklist(JAPANESE)
    ids = [i.id for i in checklist.items()]
    assert ids[:2] == ["事前確認/バックアップを取得する", "事前確認/監視ダッシュボードを開く"]
    assert ids[2].startswith("事前確認/item-") and len(ids[2]) == len("事前確認/item-") + 4
    assert ids[3] == "事前確認/verificação-de-integridade-concluída"
    lines = JAPANESE.splitlines()
    reordered = parse_checklist("\n".join([*lines[:3], lines[6], lines[5], lines[4], lines[3]]))
    assert {i.text: i.id for i in reordered.items()} == {i.text: i.id for i in checklist.items()}


def test_an_appendix_h1_at_the_end_renames_nothing():
    before = parse_checklist(JAPANESE)
    after = parse_checklist(JAPANESE + "\n# Appendix\n\n- [ ] Extra\n")
    assert after.title == before.title == "リリース手順"
    assert [i.id for i in after.items()] == [*(i.id for i in before.items()), "appendix/extra"]


def test_a_loop_and_a_console_block_under_steps():
    checklist = parse(
        """
        ## Restart
        1. **Restart every worker**
           ```bash
           for pod in $(kubectl get pods -o name); do
             kubectl delete "$pod"
           done
           ```
        2. **Look at the pods**
           ```console
           $ kubectl get pods
           NAME      READY
           app-1     1/1
           ```
        """
    )
    loop, look = checklist.items()
    assert loop.scripts == [
        'for pod in $(kubectl get pods -o name); do\n  kubectl delete "$pod"\ndone\n'
    ]
    assert look.scripts == ["kubectl get pods\n"]


def test_control_characters_in_runbook_text_are_shown_never_sent():
    checklist = parse_checklist(
        "## S\x1b]0;pwned\x07\n- [ ] evil \x1b[31mred\x1b[0m\x7f\x9b and\ttab\n"
    )
    item = next(checklist.items())
    assert item.text == "evil ␛[31mred␛[0m␡\\x9b and tab"
    assert checklist.sections[0].title == "S␛]0;pwned␇"
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in item.text + item.id)


def test_a_comment_before_the_opening_h1_leaves_it_the_title():
    checklist = parse("<!-- generated from the template -->\n# Release 5\n## Go\n- [ ] a\n")
    assert checklist.title == "Release 5"
    assert [s.id for s in checklist.all_sections()] == ["go"]
    # an HTML block that is not a comment is content: the h1 after it is a section
    shown = parse("<div>owner: ops</div>\n\n# Release 5\n- [ ] a\n")
    assert shown.title == "Checklist"
    assert [s.title for s in shown.all_sections()] == ["Release 5"]


def test_runbook_prose_is_every_shown_line_and_nothing_in_code():
    from cockpit.checklist.markdown import runbook_prose

    text = textwrap.dedent(
        """\
        # Release
        Keep p95 **below** 100 ms.

        - error rate under 1 %
        - [ ] Backup taken

        ```bash
        # p95 below 5 ms (a comment in code)
        ```
        <!-- p99 below 1 ms -->
        """
    )
    assert runbook_prose(text) == [
        "Release",
        "Keep p95 below 100 ms.",
        "error rate under 1 %",
        "Backup taken",
    ]
    assert runbook_prose("") == []


def test_a_runbook_that_cannot_be_read_is_named_with_the_fix(tmp_path):
    with pytest.raises(ChecklistError) as caught:
        load_checklist(tmp_path / "nope.md")
    assert caught.value.message == f"checklist {tmp_path / 'nope.md'} does not exist"
    assert caught.value.hint == (
        "set `checklist` in the config to the path of your Markdown runbook "
        "(relative to the config file)"
    )
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"# ok\n\xff\xfe")
    with pytest.raises(ChecklistError) as caught:
        load_checklist(bad)
    assert caught.value.message == f"checklist {bad} is not UTF-8 text (byte 5)"
    assert caught.value.hint == "save the runbook as UTF-8"
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(ChecklistError) as caught:
        load_checklist(folder)
    assert caught.value.message == f"cannot read checklist {folder}: Is a directory"
    clash = tmp_path / "clash.md"
    clash.write_text(
        "## Deploy\n- [ ] Smoke\n  - [ ] Login works\n\n### Smoke\n- [ ] Login works\n"
    )
    with pytest.raises(ChecklistError) as caught:
        load_checklist(clash)
    assert caught.value.message == (
        f"{clash}: line 3 ('Login works') and line 6 ('Login works') would share the ID "
        "deploy/smoke/login-works"
    )
    assert caught.value.hint == (
        "reword one of the two items, or rename the heading that gives them the same path, "
        "so that each item has an ID of its own"
    )
    good = tmp_path / "good.md"
    good.write_text("# Go\n- [ ] a\n")
    assert load_checklist(good).source == good


@pytest.mark.parametrize(
    "tag", ["<br>", "<br/>", "<hr>", "<p>", "</p>", "<li>", "</li>", "<div>", "</div>", "<BR>"]
)
def test_a_breaking_tag_between_words_is_a_space(tag):
    (item,) = parse(f"- [ ] one{tag}two\n").items()
    assert item.text == "one two"


def test_other_inline_tags_give_way_to_their_text_without_a_break():
    (item,) = parse("- [ ] un<em>told</em> <span>story</span>\n").items()
    assert item.text == "untold story"


def test_a_step_holds_only_its_own_blocks_and_notes():
    checklist = parse(
        """
        ## Deploy
        1. Migrate
           ```BASH title=migrate
           npm run migrate
           ```
           - watch the locks
        2. Plain text, no code
           - [ ] nested task
             ```bash
             echo nested
             ```
        3. **Smoke test**
           ```python
           print("not a shell")
           ```
        """
    )
    steps = [i for i in checklist.items() if i.kind == "step"]
    assert [s.text for s in steps] == ["Migrate", "Smoke test"]
    migrate, smoke = steps
    assert [(b.language, b.script) for b in migrate.blocks] == [("bash", "npm run migrate\n")]
    assert migrate.notes == ["watch the locks"]
    assert [(b.language, b.script, b.line) for b in smoke.blocks] == [("python", "", 14)]
    (task,) = [i for i in checklist.items() if i.kind == "manual"]
    assert task.text == "nested task" and task.parent_id is None


def test_front_matter_titles_are_trimmed_and_only_strings_count():
    assert parse("---\ntitle: '  Release   {v} '\n---\n- [ ] a\n").title == "Release {v}"
    assert parse("---\ntitle: 5\n---\n- [ ] a\n").title == "Checklist"
    assert parse("---\n- a list\n---\n- [ ] a\n").title == "Checklist"
    assert parse("## First\n- [ ] a\n").title == "Checklist"  # an h2 first is no title


def test_an_empty_heading_is_untitled_and_items_before_any_heading_are_general():
    checklist = parse("- [ ] early\n\n##\n- [ ] later\n")
    assert [(s.title, s.level) for s in checklist.all_sections()] == [
        ("General", 1),
        ("(untitled)", 2),
    ]
    assert [i.id for i in checklist.items()] == ["general/early", "general/untitled/later"]


def test_checked_tasks_are_done_in_the_document_and_links_are_kept():
    items = list(
        parse(
            "- [x] done [runbook](https://r/1) and [log](https://l/2)\n"
            "- [X] also done\n"
            "- [ ] open\n"
        ).items()
    )
    assert [(i.done_in_document, i.links) for i in items] == [
        (True, ["https://r/1", "https://l/2"]),
        (True, []),
        (False, []),
    ]


def test_a_numbered_item_is_a_step_only_for_a_code_block_of_its_own():
    after_list = parse("## Go\n1. Plain text\n\n```bash\necho outside\n```\n")
    assert [i.kind for i in after_list.items()] == []  # the block is outside the list
    (step,) = parse(
        "## Go\n1. Plain text\n   - a bullet first\n\n   ```bash\n   echo mine\n   ```\n"
    ).items()
    assert step.kind == "step" and step.scripts == ["echo mine\n"]
    assert step.notes == ["a bullet first"]


def test_an_indented_comment_before_the_opening_h1_leaves_it_the_title():
    checklist = parse("  <!-- generated -->\n# Release 6\n- [ ] a\n")
    assert checklist.title == "Release 6"


def test_a_runbook_others_can_write_is_refused_as_a_runbook(tmp_path):
    """Whoever can edit the runbook decides what the steps run: the refusal names the file as
    the runbook, with the fix."""
    runbook = tmp_path / "runbook.md"
    runbook.write_text("# Go\n- [ ] a\n")
    runbook.chmod(0o666)
    with pytest.raises(ConfigError) as caught:
        load_checklist(runbook)
    assert caught.value.message == (
        f"runbook {runbook} is writable by other users (mode 666): whoever can edit it can "
        "change what the cockpit runs or records"
    )
    assert caught.value.hint == f"chmod go-w {runbook}"


def test_an_empty_runbook_is_an_empty_checklist():
    empty = parse("")
    assert (empty.title, empty.sections) == ("Checklist", [])


def test_only_numbered_items_are_steps_even_after_a_nested_numbered_list_closes():
    """A bullet that holds a code block is prose with an example, also when a numbered list
    nested in the bullet before it has just ended."""
    checklist = parse(
        """
        ## Deploy
        - Before you start
          1. **Back up**
        - Check the logs
          ```bash
          kubectl logs deploy/web
          ```
        """
    )
    assert [(i.kind, i.text) for i in checklist.items()] == [("step", "Back up")]


def test_a_steps_later_paragraphs_are_notes_and_an_indented_block_is_a_command():
    """An indented code block is a code block as GitHub shows it: untagged, so a shell
    command like an untagged fence; the step's own paragraphs after its title are notes."""
    (step,) = parse(
        """
        ## Deploy
        1. **Roll out**

           Watch the dashboard while it rolls.

               kubectl rollout status deploy/web
        """
    ).items()
    assert step.notes == ["Watch the dashboard while it rolls."]
    ((language, script, source, line),) = [
        (b.language, b.script, b.source, b.line) for b in step.blocks
    ]
    assert (language, script, source, line) == (
        "",
        "kubectl rollout status deploy/web\n",
        "kubectl rollout status deploy/web\n",
        7,
    )


def test_a_console_block_runs_its_prompt_lines_whatever_comes_first():
    """A `console` block is a transcript even when a comment or output opens it: what it
    shows after the prompts is output, never run."""
    (step,) = parse(
        """
        ## Check
        1. **Look at the pods**
           ```console
           # what you should see
           $ kubectl get pods
           NAME      READY
           ```
        """
    ).items()
    assert step.scripts == ["kubectl get pods\n"]
    assert step.blocks[0].source == "# what you should see\n$ kubectl get pods\nNAME      READY\n"


def test_an_empty_shell_block_runs_nothing():
    (step,) = parse("## Go\n1. **Deploy**\n   ```bash\n   ```\n").items()
    assert [(b.language, b.script) for b in step.blocks] == [("bash", "")]
    assert block_script("") == "" and block_script("\n  \n") == "\n  \n"


def test_a_prompt_line_continued_without_the_shells_prompt_is_kept_whole():
    assert block_script("$ kubectl apply -f a.yaml \\\n  --server-side\nserver-side applied\n") == (
        "kubectl apply -f a.yaml \\\n--server-side\n"
    )


def test_a_bold_title_may_end_in_a_stop_a_hard_break_or_a_comment():
    """`1. **Deploy**.`, a title ended by a hard line break (`\\`), and one followed by an
    HTML comment GitHub does not show are steps; bold words at the end of a sentence are not."""
    checklist = parse(
        """
        ## S
        1. Run **this**
        2. **Deploy**.
        3. **Migrate** <!-- owner: ops -->
        4. **Tell the team**\\
           in the channel
        5. **Verify**:
           the smoke tests
        """
    )
    assert [(i.text, i.notes) for i in checklist.items()] == [
        ("Deploy.", []),
        ("Migrate", []),
        ("Tell the team", ["in the channel"]),
        ("Verify:", ["the smoke tests"]),
    ]
    assert {i.kind for i in checklist.items()} == {"step"}


def test_an_image_reads_as_its_alt_text_and_an_empty_link_is_not_a_link():
    """`[dashboard]()` is a placeholder for a link not filled in yet: nothing to open."""
    (item,) = parse(
        "## S\n- [ ] Look at ![the latency graph](g.png), [dashboard]() and [runbook](https://r)\n"
    ).items()
    assert item.text == "Look at the latency graph, dashboard and runbook"
    assert item.links == ["https://r"]


def test_sections_and_items_know_their_line_section_and_parent():
    checklist = parse(
        """
        - [ ] early
        # T
        ## A
        text
        ### B
        - [ ] parent
          - [ ] child
        """
    )
    assert [(s.id, s.title, s.line) for s in checklist.all_sections()] == [
        ("general", "General", 2),
        ("t", "T", 3),
        ("t/a", "A", 4),
        ("t/a/b", "B", 6),
    ]
    assert [(i.id, i.section_id, i.parent_id, i.line) for i in checklist.items()] == [
        ("general/early", "general", None, 2),
        ("t/a/b/parent", "t/a/b", None, 7),
        ("t/a/b/parent/child", "t/a/b", "t/a/b/parent", 8),
    ]


def test_a_fence_language_followed_by_a_tab_is_still_the_shell():
    checklist = parse(
        "## Rotate\n1. [ ] Rotate the key\n   ```bash\tfile=rotate.sh\n   vault write x\n   ```\n"
    )
    (item,) = checklist.items()
    assert item.kind == "step" and item.scripts == ["vault write x\n"]
