"""Bad arguments are rejected on the client, before any request: no run and no upload.

Each test counts the group's runs (and uploaded files) on the real server
before and after the rejected ``start_run``. The ``types`` workflow shows
list and record arguments arriving at the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from tests.support.realserver import DEADLINE, POLL, QUICK


async def assert_rejected_without_run(
    workflow: afs.AsyncWorkflow,
    arguments: dict[str, Any],
    error: type[afs.FlowservError],
    parameter: str,
    **options: Any,
) -> afs.FlowservError:
    """start_run raises ``error`` naming ``parameter``; the group has no new run or upload."""
    service = workflow.service
    runs_before = await workflow.list_runs()
    files_before = await service.list_files(workflow.group_id)
    with pytest.raises(error) as caught:
        await workflow.start_run(arguments, poll_interval=POLL, timeout=DEADLINE, **options)
    assert parameter in str(caught.value)
    if isinstance(caught.value, afs.ArgumentError):
        assert caught.value.parameter == parameter
    assert await workflow.list_runs() == runs_before
    assert await service.list_files(workflow.group_id) == files_before
    return caught.value


@pytest.mark.asyncio
async def test_unknown_parameter_is_rejected_without_a_run(workflow: afs.AsyncWorkflow) -> None:
    error = await assert_rejected_without_run(
        workflow, {"sleep": QUICK, "snooze": 1}, afs.UnknownParameterError, "snooze"
    )
    assert "sleep" in str(error)  # the message lists the known parameters


@pytest.mark.asyncio
async def test_wrong_type_is_rejected_without_a_run(workflow: afs.AsyncWorkflow) -> None:
    await assert_rejected_without_run(
        workflow, {"sleep": "a while"}, afs.InvalidArgumentError, "sleep"
    )


@pytest.mark.asyncio
async def test_float_for_an_int_parameter_is_rejected_without_a_run(
    workflow: afs.AsyncWorkflow,
) -> None:
    # The server itself would accept 1.5 and truncate it to 1.
    await assert_rejected_without_run(
        workflow, {"exitcode": 1.5}, afs.InvalidArgumentError, "exitcode"
    )


@pytest.mark.asyncio
async def test_bool_for_a_string_parameter_is_rejected_without_a_run(
    workflow: afs.AsyncWorkflow,
) -> None:
    await assert_rejected_without_run(
        workflow, {"greeting": True}, afs.InvalidArgumentError, "greeting"
    )


@pytest.mark.asyncio
async def test_out_of_range_value_is_rejected_without_a_run(workflow: afs.AsyncWorkflow) -> None:
    error = await assert_rejected_without_run(
        workflow, {"sleep": 3601}, afs.InvalidArgumentError, "sleep"
    )
    assert "[0.0,3600.0]" in str(error)


@pytest.mark.asyncio
async def test_negative_value_below_range_is_rejected_without_a_run(
    workflow: afs.AsyncWorkflow,
) -> None:
    await assert_rejected_without_run(workflow, {"sleep": -1}, afs.InvalidArgumentError, "sleep")


@pytest.mark.asyncio
async def test_bad_select_value_is_rejected_without_a_run(workflow: afs.AsyncWorkflow) -> None:
    error = await assert_rejected_without_run(
        workflow, {"mode": "lower"}, afs.InvalidArgumentError, "mode"
    )
    assert "'plain'" in str(error)
    assert "'upper'" in str(error)


@pytest.mark.asyncio
async def test_config_is_rejected_without_a_run(workflow: afs.AsyncWorkflow) -> None:
    await assert_rejected_without_run(
        workflow, {"sleep": QUICK}, afs.InvalidArgumentError, "config", config={"workers": 2}
    )


@pytest.mark.asyncio
async def test_missing_local_file_is_rejected_without_a_run(
    workflow: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    await assert_rejected_without_run(
        workflow, {"names": tmp_path / "absent.txt"}, afs.InvalidArgumentError, "names"
    )


@pytest.mark.asyncio
async def test_bad_argument_next_to_a_file_uploads_nothing(workflow: afs.AsyncWorkflow) -> None:
    await assert_rejected_without_run(
        workflow, {"names": b"Zed\n", "mode": "LOUD"}, afs.InvalidArgumentError, "mode"
    )


@pytest.mark.asyncio
async def test_missing_required_record_is_rejected_without_a_run(
    client: afs.AsyncFlowserv, types_group_id: str
) -> None:
    types = await client.workflow("types", types_group_id)
    await assert_rejected_without_run(types, {}, afs.InvalidArgumentError, "point")


@pytest.mark.asyncio
async def test_bad_list_element_is_rejected_without_a_run(
    client: afs.AsyncFlowserv, types_group_id: str
) -> None:
    types = await client.workflow("types", types_group_id)
    await assert_rejected_without_run(
        types, {"nums": [1, "two"], "point": {"x": 1}}, afs.InvalidArgumentError, "nums[1]"
    )


@pytest.mark.asyncio
async def test_unknown_record_field_is_rejected_without_a_run(
    client: afs.AsyncFlowserv, types_group_id: str
) -> None:
    types = await client.workflow("types", types_group_id)
    await assert_rejected_without_run(
        types, {"point": {"x": 1, "y": 2}}, afs.InvalidArgumentError, "point.y"
    )


async def args_json(types: afs.AsyncWorkflow, arguments: dict[str, Any]) -> list[str]:
    """Run the types workflow to the end and return its results/args.json."""
    run = await types.start_run(arguments, poll_interval=POLL, timeout=DEADLINE)
    assert run.is_success(), run.messages()
    output = run.get_file("results/args.json")
    assert output is not None
    doc: list[str] = json.loads(await (await types.get_file(run.run_id, output.id)).read())
    return doc


@pytest.mark.asyncio
async def test_list_and_record_arguments_reach_the_run(
    client: afs.AsyncFlowserv, types_group_id: str
) -> None:
    types = await client.workflow("types", types_group_id)
    nums, point = await args_json(types, {"nums": [3, 4, 5], "point": {"x": 2.5, "tag": "p"}})
    assert nums == "[3, 4, 5]"
    assert point == "{'x': 2.5, 'tag': 'p'}"


@pytest.mark.asyncio
async def test_list_default_and_record_field_default_are_filled_in(
    client: afs.AsyncFlowserv, types_group_id: str
) -> None:
    types = await client.workflow("types", types_group_id)
    nums, point = await args_json(types, {"point": {"x": 1}})
    assert nums == "[1, 2]"
    assert point == "{'x': 1.0, 'tag': 'none'}"
