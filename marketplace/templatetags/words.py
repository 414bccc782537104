from django import template

register = template.Library()


@register.filter
def sentence(text) -> str:
    """A reason someone typed, ended as a sentence ("Account closed" → "Account closed."),
    so that the sentence after it does not run on."""
    text = str(text or "").strip()
    return text if not text or text[-1] in ".!?" else f"{text}."
