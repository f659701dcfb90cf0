"""Pure rules of the outdial target service: no I/O lives here."""
