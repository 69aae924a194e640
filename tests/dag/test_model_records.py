"""The hand-filled makers of ``model``'s per-step records equal the records' own."""
from __future__ import annotations

from hypothesis import given, strategies as st

from traceexec.dag import model


def _fields(record) -> dict:
    # every slot read: one the maker left unset raises AttributeError here
    return {name: getattr(record, name) for name in type(record).__slots__}


@given(name=st.text(max_size=5), span_id=st.text(max_size=16))
def test_a_new_step_result_is_the_one_the_record_makes(name, span_id):
    step = model.Step(name=name)
    made, reference = model.new_step_result(step, span_id), model.StepResult(step=step,
                                                                             span_id=span_id)
    assert _fields(made) == _fields(reference)
    assert made.step is step


def test_new_step_results_share_no_list_or_dict():
    step = model.Step(name="a")
    first, second = model.new_step_result(step, "1"), model.new_step_result(step, "2")
    for name, value in _fields(first).items():
        if isinstance(value, (list, dict)):
            assert value is not getattr(second, name), name
