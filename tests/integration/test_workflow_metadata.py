"""AsyncWorkflow metadata against the real server: identifier, name, texts and parameters."""

from __future__ import annotations

import pytest

import aioflowserv as afs


def test_identifier_is_the_workflow_id(workflow: afs.AsyncWorkflow, group_id: str) -> None:
    assert workflow.identifier == "sleeper"
    assert workflow.group_id == group_id


@pytest.mark.asyncio
async def test_name_is_the_installed_workflow_name(workflow: afs.AsyncWorkflow) -> None:
    assert await workflow.name() == "Sleeper"


@pytest.mark.asyncio
async def test_description_comes_from_the_template_manifest(
    workflow: afs.AsyncWorkflow,
) -> None:
    description = await workflow.description()
    assert description is not None
    assert description.startswith("Test workflow: sleeps N seconds")


@pytest.mark.asyncio
async def test_instructions_are_the_template_markdown(workflow: afs.AsyncWorkflow) -> None:
    instructions = await workflow.instructions()
    assert instructions is not None
    assert instructions.startswith("# Sleeper")


@pytest.mark.asyncio
async def test_parameters_map_each_name_to_its_declaration(workflow: afs.AsyncWorkflow) -> None:
    parameters = await workflow.parameters()
    assert isinstance(parameters, afs.ParameterIndex)
    assert isinstance(parameters, dict)
    assert list(parameters) == ["sleep", "greeting", "names", "exitcode", "mode", "shout"]
    assert all(para.name == name for name, para in parameters.items())
    assert {name: para.dtype for name, para in parameters.items()} == {
        "sleep": "float",
        "greeting": "string",
        "names": "file",
        "exitcode": "int",
        "mode": "select",
        "shout": "bool",
    }


@pytest.mark.asyncio
async def test_parameters_carry_defaults_as_the_group_declares(
    workflow: afs.AsyncWorkflow,
) -> None:
    parameters = await workflow.parameters()
    assert parameters["sleep"].default == 0.0
    assert parameters["greeting"].default == "Hello"
    assert parameters["names"].default == "data/names.txt"
    assert parameters["exitcode"].default == 0
    assert parameters["mode"].default == "plain"
    assert parameters["shout"].default is False
    # Every sleeper parameter has a default, so none is required.
    assert not any(para.required for para in parameters.values())


@pytest.mark.asyncio
async def test_parameters_carry_constraints_labels_and_targets(
    workflow: afs.AsyncWorkflow,
) -> None:
    parameters = await workflow.parameters()
    sleep = parameters["sleep"]
    assert sleep.label == "Sleep time (s)"
    assert sleep.range is not None
    assert 0 in sleep.range
    assert 3600 in sleep.range
    assert -1 not in sleep.range
    assert [option.value for option in parameters["mode"].values] == ["plain", "upper"]
    assert parameters["names"].target == "data/names.txt"
    assert parameters["names"].is_file()


@pytest.mark.asyncio
async def test_types_parameters_declare_a_list_and_a_required_record(
    client: afs.AsyncFlowserv, types_group_id: str
) -> None:
    types = await client.workflow("types", types_group_id)
    parameters = await types.parameters()
    nums, point = parameters["nums"], parameters["point"]
    assert nums.dtype == "list"
    assert nums.default == [1, 2]
    assert not nums.required
    assert nums.para is not None
    assert nums.para.dtype == "int"
    assert point.dtype == "record"
    assert point.required
    assert [(f.name, f.dtype, f.required) for f in point.fields] == [
        ("x", "float", True),
        ("tag", "string", False),
    ]
    assert point.fields[1].default == "none"
