"""The guided "new integration" flow: one page per step, from a customer to a first call.

customer → environment → OAuth client → customer auth → test user → API key → endpoint →
first test call and readiness report. Each step writes its row when it is submitted, so
the flow's state is the rows themselves, found from the customer and environment slugs
in the URL: leaving half way loses nothing, and any step can be opened again. The admin
stays for everything the flow does not ask.
"""
