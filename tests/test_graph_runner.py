"""The shipped model's graphs give the same answers run in dependency order as through dask's scheduler."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered

from components import graph_runner, rasa_patches
from scripts.stack import ensure_model

ROOT = Path(__file__).resolve().parent.parent

MESSAGES = ["hi", "where is my order 10001?", "I want a refund for order 10003, it arrived broken", "HUMAN NOW!!!"]


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent.load(str(ensure_model()))


PATCH = rasa_patches.find(DaskGraphRunner, "run")


def both_ways(call):
    """``call()`` once through dask's scheduler and once through this project's runner."""
    with rasa_patches.rasas_own(PATCH):
        with_dask = call()
    return with_dask, call()


def test_installed():
    assert DaskGraphRunner.run is graph_runner.run and rasa_patches.is_installed(PATCH)


@pytest.mark.parametrize("text", MESSAGES)
def test_parse_is_the_same(agent, text):
    with_dask, ours = both_ways(lambda: asyncio.run(agent.parse_message(text)))
    assert ours == with_dask
    assert ours["intent"]["name"] and "sentiment" in ours


def test_predictions_along_a_conversation_are_the_same(agent):
    processor = agent.processor
    tracker = asyncio.run(processor.get_tracker("graph-runner-test"))
    tracker.update(ActionExecuted("action_listen"))
    for text in MESSAGES:
        parse = asyncio.run(agent.parse_message(text))
        tracker.update(UserUttered(text, parse["intent"], parse["entities"], parse))
        with_dask, ours = both_ways(lambda: processor._predict_next_with_tracker(tracker))
        assert (ours.policy_name, ours.probabilities, ours.events) == (
            with_dask.policy_name,
            with_dask.probabilities,
            with_dask.events,
        )
        tracker.update(ActionExecuted(agent.domain.action_names_or_texts[ours.max_confidence_index]))
        tracker.update(ActionExecuted("action_listen"))


def test_an_input_named_like_a_node_is_refused(agent):
    runner = agent.processor.graph_runner
    node = next(iter(runner._graph_schema.nodes))
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        runner.run(inputs={node: 1}, targets=[node])
