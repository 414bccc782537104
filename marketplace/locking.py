"""
The platform's lock order. Every service that locks more than one row takes the locks
in this order, so two of them can only wait for each other, never deadlock:

1. The owner of an invoice: an Order (orders) or a Subscription (billing). Billing never
   names the owner; it locks it through `billing.invoice_owners.invoice_lock`, which
   calls the lock function the owner registered, before the invoice.
2. The Invoice.
3. Its Transactions, in id order when there are several.
4. Their Attempts.
5. The receipt sequence (`billing.ReceiptSequence`), last of all: a receipt is numbered
   at the end of the transaction that settled or refunded its invoice, after the owner
   has done its part (earnings and ledger accounts included), and that one row is the
   only lock a receipt takes.

Payouts have their own chain, never held together with the one above except through the
ledger: a seller's PayoutAccount (where their money goes) before their Payouts, a Payout
before its Earnings, and ledger accounts in id order, new ones created in key order
(`payouts.ledger`). A payout run locks the payout accounts of a chunk of sellers before
building their payouts, and a seller changing their details locks their account before
holding their unsent payouts, so the two wait for each other and a payout is never sent
on details changed under it. The Stripe send of a payout locks the seller's account before
the payout too, and a change cancels only payouts still scheduled when it holds their
lock. An order's transaction that writes an earning (completion, refund) holds the order
first, then touches earnings and ledger accounts, never an invoice after them.

A service called inside another's transaction may lock a row the caller already holds:
PostgreSQL grants it at once. What it must never do is lock a row that comes earlier in
this order than one its transaction already holds. Reading without a lock is always
allowed, which is how `invoice_lock` learns who the owner is.

Races that take two of these locks are tested with real threads on PostgreSQL in
`orders/tests/test_lock_order.py` and `billing/tests/test_lock_order.py`.
"""
