"""The payer API's access control: SMART Backend Services tokens, scopes, isolation and the access trail."""
