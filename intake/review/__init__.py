"""The review station: decisions on records and unread faxes, the queue, the desk's words, the web page.

    decisions  waiting -> confirmed / on hold / returned (and back by reopening), audited
    queue      what waits, oldest first, and the counts ``intake status`` prints
    words      what the desk reads, Japanese first
    accounts   reviewers' passwords (scrypt)
    web        the browser station (``intake review serve``)
    cli        ``intake review ...`` and ``intake status``
"""
