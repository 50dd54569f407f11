"""enqueue_many's templates: jobs built from a validated template equal fully validated ones."""

from __future__ import annotations

import contextlib
from dataclasses import fields
from typing import Any

import pytest

import burro
from burro.config import load_config
from burro.facade._validate import JobTemplates, build_job, task_request
from burro.facade._worker import WorkerResolver
from burro.storage import NewJob


@burro.worker(max_attempts=7)
def resize(path: str, width: int) -> None:
    """A worker to enqueue (never run here)."""


@burro.worker(max_attempts=2)
def crop(path: str) -> None:
    """Another worker to enqueue (never run here)."""


CONFIG = load_config({"queues": {"default": {"concurrency": 1}, "media": {"concurrency": 2}}})


def every_field(job: NewJob) -> dict[str, Any]:
    return {field.name: getattr(job, field.name) for field in fields(job)}


def task(args: list[Any], **options: Any) -> dict[str, Any]:
    return {"worker": resize, "function": "resize", "args": args, **options}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"queue": "media", "priority": 3, "timeout_seconds": 5},
        {"unique_for_seconds": 60},
        {"meta": {"batch": 1}},  # each task's own, checked every time
    ],
)
def test_jobs_from_a_template_equal_fully_validated_ones(options: dict[str, Any]) -> None:
    resolver = WorkerResolver(())
    templates = JobTemplates(CONFIG, resolver)
    for n in range(3):
        built = templates.build(task([f"{n}.png", n], **options), n)
        expected = build_job(task_request(task([f"{n}.png", n], **options)), CONFIG, resolver)
        assert every_field(built) == every_field(expected)


@pytest.mark.parametrize(
    ("good", "bad", "message"),
    [
        ({"priority": 1}, {"priority": True}, "priority"),
        ({"max_attempts": 2}, {"max_attempts": 2.0}, "max_attempts"),
    ],
)
def test_an_option_equal_to_a_valid_one_but_of_another_type_is_still_refused(
    good: dict[str, Any], bad: dict[str, Any], message: str
) -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()))
    templates.build(task(["a.png", 1], **good), 0)
    with pytest.raises(burro.InvalidTaskError, match=message):
        templates.build(task(["b.png", 2], **bad), 1)


def test_bad_args_of_a_later_job_are_refused() -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()))
    templates.build(task(["a.png", 1]), 0)
    with pytest.raises(burro.InvalidTaskError, match="args"):
        templates.build(task(["b.png", object()]), 1)


def test_another_worker_gets_its_own_template() -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()))
    first = templates.build(task(["a.png", 1]), 0)
    other = templates.build({"worker": crop, "args": ["b.png"]}, 1)
    assert (first.function, first.max_attempts) == ("resize", 7)
    assert (other.function, other.max_attempts) == ("crop", 2)


def test_each_task_keeps_its_own_meta_and_a_bad_one_is_refused() -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()))
    first = templates.build(task(["a.png", 1], meta={"tenant": "acme"}), 0)
    second = templates.build(task(["b.png", 2], meta={"tenant": "zed"}), 1)
    bare = templates.build(task(["c.png", 3]), 2)
    metas = [job.meta for job in (first, second, bare)]
    assert metas == [{"tenant": "acme"}, {"tenant": "zed"}, {}]
    with pytest.raises(burro.InvalidTaskError, match="meta"):
        templates.build(task(["d.png", 4], meta={1: "not a str key"}), 3)
    with pytest.raises(burro.InvalidTaskError, match="meta"):
        templates.build(task(["e.png", 5], meta={"when": object()}), 4)


def test_an_unhashable_option_gets_the_validation_error() -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()))
    templates.build(task(["a.png", 1]), 0)
    with pytest.raises(burro.InvalidTaskError, match="priority"):
        templates.build(task(["b.png", 2], priority=[1]), 1)


def test_templates_kept_are_bounded_and_jobs_stay_right_past_the_bound() -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()), limit=2)
    resolver = WorkerResolver(())
    for priority in range(5):
        built = templates.build(task(["a.png", priority], priority=priority), priority)
        expected = build_job(
            task_request(task(["a.png", priority], priority=priority)), CONFIG, resolver
        )
        assert every_field(built) == every_field(expected)
        assert len(templates) <= 2


def test_templates_keep_none_of_a_task_s_own_args_or_meta() -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()), limit=8)
    payload = "x" * 100_000
    first = templates.build(task([payload, 1], meta={"blob": payload}), 0)
    assert first.args == (payload, 1)
    assert first.meta == {"blob": payload}
    kept = list(templates._templates.values())
    assert [(t.args, t.packed_args, dict(t.meta)) for t in kept] == [((), None, {})]
    second = templates.build(task(["b.png", 2]), 1)
    assert (second.args, second.meta, second.max_attempts) == (("b.png", 2), {}, 7)


def test_jobs_without_meta_share_no_mapping_one_of_them_could_change() -> None:
    templates = JobTemplates(CONFIG, WorkerResolver(()))
    first, second, third = (templates.build(task([f"{n}.png", n]), n) for n in range(3))
    with contextlib.suppress(TypeError):  # read-only, or its own
        second.meta["tenant"] = "acme"  # type: ignore[index]
    assert first.meta == third.meta == {}


@pytest.fixture
def manager() -> Any:
    with burro.connect(backend="memory", queues={"default": {}, "media": {}}) as connected:
        yield connected


def test_enqueue_task_stores_every_job_of_a_kind_as_fully_validated(manager: Any) -> None:
    options = {"queue": "media", "priority": 3, "meta": {"tenant": "acme"}}
    ids = [manager.enqueue_task(resize, "resize", [f"{n}.png", n], **options) for n in range(3)]
    ids.append(manager.enqueue_task(resize, "resize", ["3.png", 3], queue="media"))
    stored = [manager.get_task_status(task_id) for task_id in ids]
    assert [status.args for status in stored] == [(f"{n}.png", n) for n in range(4)]
    assert {(s.queue, s.priority, s.max_attempts) for s in stored[:3]} == {("media", 3, 7)}
    assert [dict(s.meta) for s in stored] == [{"tenant": "acme"}] * 3 + [{}]
    assert (stored[3].priority, stored[3].meta) == (0, {})


def test_enqueue_task_still_checks_what_is_each_call_s_own(manager: Any) -> None:
    manager.enqueue_task(resize, "resize", ["a.png", 1], priority=1)
    with pytest.raises(burro.InvalidTaskError, match="priority"):
        manager.enqueue_task(resize, "resize", ["b.png", 2], priority=True)
    with pytest.raises(burro.InvalidTaskError, match="args"):
        manager.enqueue_task(resize, "resize", ["c.png", object()], priority=1)
    with pytest.raises(burro.InvalidTaskError, match="meta"):
        manager.enqueue_task(resize, "resize", ["d.png", 4], priority=1, meta={1: "x"})
    with pytest.raises(burro.InvalidTaskError, match="unknown option"):
        manager.enqueue_task(resize, "resize", ["e.png", 5], priorty=1)
    _, page = manager.list_tasks()
    assert page.total_entries == 1, "nothing of the refused calls was stored"


class Shared:
    """An option value that is one object across tasks, as a comprehension's would be."""

    media = "".join(["me", "dia"])  # equal to "media", another object


@pytest.mark.parametrize(
    "batch",
    [
        # One kind: the loop reuses the template of the task before.
        [task([f"{n}.png", n]) for n in range(4)],
        # Kinds coming and going, options of equal value but other objects or types.
        [
            task(["a.png", 1], queue="media"),
            task(["b.png", 2], queue=Shared.media),
            task(["c.png", 3], queue=Shared.media, priority=1),
            task(["d.png", 4], queue=Shared.media, priority=1),
            {"worker": crop, "args": ("e.png",)},
            {"worker": crop, "args": ["f.png"], "meta": {"n": 1}},
            {"worker": crop, "args": ["g.png"], "meta": None},
            {"worker": crop, "function": "crop", "args": ["h.png"]},
            {"worker": crop},
            {"worker": crop, "args": ["i.png"]},
            task(["j.png", 5], unique_for_seconds=60),
            task(["k.png", 6], unique_for_seconds=60),
            task(["l.png", 7]),
            task(["m.png", 8], max_attempts=3),
            task(["n.png", 9], max_attempts=3),
        ],
    ],
    ids=["one kind", "many kinds"],
)
def test_build_all_builds_every_task_as_build_job_does(batch: list[dict[str, Any]]) -> None:
    resolver = WorkerResolver(())
    expected = [every_field(build_job(task_request(one), CONFIG, resolver)) for one in batch]
    built = JobTemplates(CONFIG, resolver).build_all(batch)
    assert [every_field(job) for job in built] == expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"args": ["b.png", object()]}, "args cannot be stored"),
        ({"args": "b.png"}, "args must be a list or tuple"),
        ({"args": ["b.png", 2], "meta": {1: "x"}}, "meta must be a mapping"),
        ({"args": ["b.png", 2], "priority": True}, "priority"),
        ({"args": ["b.png", 2], "queue": "nowhere"}, "unknown queue"),
        ({"args": ["b.png", 2], "priorty": 1}, "unknown option"),
    ],
)
def test_build_all_refuses_a_later_task_of_a_known_kind_as_build_does(
    bad: dict[str, Any], message: str
) -> None:
    batch = [
        task(["a.png", 1]),
        task(["b.png", 2]),
        {"worker": resize, "function": "resize", **bad},
    ]
    with pytest.raises(burro.InvalidTaskError, match=message) as raised:
        JobTemplates(CONFIG, WorkerResolver(())).build_all(batch)
    with pytest.raises(burro.InvalidTaskError) as expected:
        build_job(task_request(batch[2]), CONFIG, WorkerResolver(()))
    assert str(raised.value) == str(expected.value)


def test_build_all_keeps_list_and_tuple_subclasses_as_build_job_does() -> None:
    class Args(list[Any]):
        pass

    resolver = WorkerResolver(())
    batch = [task(["a.png", 1]), task(Args(["b.png", 2]))]
    built = JobTemplates(CONFIG, resolver).build_all(batch)
    expected = [build_job(task_request(one), CONFIG, resolver) for one in batch]
    assert [every_field(job) for job in built] == [every_field(job) for job in expected]
