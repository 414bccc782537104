from django import template

from marketplace.money import format_money

register = template.Library()


@register.simple_tag
def money(amount, currency):
    """{% money order.total_amount order.currency %}"""
    return format_money(amount, currency)
