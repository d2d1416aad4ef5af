"""The payer's reviewer desk: accounts, the queue of pended requests, case pages, the CMS-0057-F report."""
