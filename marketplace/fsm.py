"""
The words a state machine keeps on its own transitions.

Each `@transition(..., custom={...})` carries what people are told about it (the verb,
the past tense). Services read them back here instead of keeping a dict by method name
that can drift from the model.
"""

from functools import cache


@cache
def transition_custom(model, field: str = "status") -> dict[str, dict]:
    """The `custom` metadata of each transition of `model.<field>`, by method name. A
    transition with several sources is one entry: its sources share one decorator."""
    return {t.name: t.custom for t in model._meta.get_field(field).get_all_transitions(model)}
