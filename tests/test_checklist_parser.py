"""The Markdown runbook parser: sections, items, steps, commands and stable IDs."""

from __future__ import annotations

import textwrap

import pytest

from cockpit.checklist import parse_checklist
from cockpit.checklist.markdown import load_checklist, split_commands
from cockpit.errors import ChecklistError

from .conftest import REFERENCE_CHECKLIST, SAMPLE_RUNBOOK


def parse(text: str):
    return parse_checklist(textwrap.dedent(text))


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE_CHECKLIST.exists():
        pytest.fail(f"reference checklist missing: {REFERENCE_CHECKLIST}")
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
    assert steps["Database Migration"].commands == [
        "npm run migrate:status",
        "npm run migrate:run",
    ]
    assert steps["Execute Rollback"].commands == [
        "kubectl rollout undo deployment/servicedesk-app -n servicedesk"
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
    assert [i.id for i in checklist.items()] == ["checks/ping", "checks/ping-2"]


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


def test_several_top_level_headings_are_all_sections():
    checklist = parse(
        """
        # One
        - [ ] a
        # Two
        - [ ] b
        """
    )
    assert [s.title for s in checklist.sections] == ["One", "Two"]
    assert checklist.title == "Checklist"


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
    assert items[0].commands == ["kubectl apply -f app.yaml"]


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
    assert step.commands == ["psql -c 'select 1'"]


def test_split_commands_handles_comments_continuations_heredocs_and_transcripts():
    source = textwrap.dedent(
        """\
        # a comment
        kubectl set image deploy/app \\
          app=image:2

        cat <<'EOF' > /tmp/x
        # not a comment inside a here-document
        EOF
        echo done
        """
    )
    assert split_commands(source) == [
        "kubectl set image deploy/app app=image:2",
        "cat <<'EOF' > /tmp/x\n# not a comment inside a here-document\nEOF",
        "echo done",
    ]
    transcript = "$ kubectl get pods\nNAME READY\napp-1 1/1\n$ echo ok\nok\n"
    assert split_commands(transcript, "console") == ["kubectl get pods", "echo ok"]


def test_sample_runbook_parses_with_steps_commands_and_placeholders():
    checklist = load_checklist(SAMPLE_RUNBOOK)
    steps = [i for i in checklist.items() if i.kind == "step"]
    assert len(steps) >= 4
    rollout = next(s for s in steps if s.text == "Roll out the new image")
    assert rollout.commands[0].startswith("kubectl -n {namespace} set image")
    assert "app=registry.example.com/servicedesk:{version}" in rollout.commands[0]


def test_missing_or_binary_runbook_is_a_clear_error(tmp_path):
    with pytest.raises(ChecklistError, match="does not exist"):
        load_checklist(tmp_path / "nope.md")
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ChecklistError, match="not UTF-8"):
        load_checklist(bad)
