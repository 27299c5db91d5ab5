"""Customers as sales and managers see them: the customer-360 view (owner, tags with evidence,
violations summary). The ``Customer`` model still lives in ``tenancy`` (see the note)."""
