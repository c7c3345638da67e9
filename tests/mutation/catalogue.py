"""The hand-placed mutants `make mutation` runs (tests/mutation/runner.py): one entry per decision of the budget, the
phone numbers, the rate limiter, the API's start limits and the lifecycle's writes, admission and texting.

An entry names its file, the exact original text (found exactly once in that file, or the run stops), the text that
replaces it, what the mutant breaks, and the tests that must notice. Snippets are kept short and free of line numbers,
so that code moving between modules needs only its entries re-pointed. The catalogue was first run against the
lifecycle as one module (lifecycle.py), then re-pointed to its rooms (functions/ondemand/lifecycle/): the same
decisions, and a mutant for each place a decision is now made. An entry with `equivalent=` changes no behaviour: the
reason says why; the runner expects it to survive.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...] = ()
    equivalent: str | None = None


BUDGET = "functions/ondemand/budget.py"
PHONES = "functions/ondemand/phones.py"
RATE_LIMIT = "functions/ondemand/adapters/rate_limit.py"
API = "functions/ondemand/handlers/api.py"
# The lifecycle's rooms (functions/ondemand/lifecycle/) and the modules their decisions live in.
LIFECYCLE = "functions/ondemand/lifecycle"
WRITES = f"{LIFECYCLE}/writes.py"  # the conditional-write primitive, MAX_WRITE_ATTEMPTS, the backoff
CONSENT = f"{LIFECYCLE}/consent.py"  # codes sent and tried, a confirmation checked before /start keeps a number
CONSENT_TOKENS = "functions/ondemand/consent.py"  # the stateless codes and tokens
BOOTSTRAP = "functions/ondemand/bootstrap.py"  # which room each command reaches, through which check
STARTS = f"{LIFECYCLE}/starts.py"  # the start limits, the STARTING write, the subscriber list, a start's failure
SHUTDOWN = f"{LIFECYCLE}/shutdown.py"  # extend, the notice, the teardown, the write ending a run
TEXTING = f"{LIFECYCLE}/texting.py"  # allowlist, caps, pacing
PROMOTION = f"{LIFECYCLE}/promotion.py"  # who the ready text goes to
RECONCILER = f"{LIFECYCLE}/reconciler.py"
ENDPOINT_EVENTS = f"{LIFECYCLE}/endpoint_events.py"
DOMAIN = "functions/ondemand/domain.py"  # LIVE_STATES


def tests(module: str, *names: str) -> tuple[str, ...]:
    """Node ids in tests/unit/lifecycle/test_lifecycle_<module>.py (the whole file without names)."""
    path = f"tests/unit/lifecycle/test_lifecycle_{module}.py"
    return tuple(f"{path}::{name}" for name in names) or (path,)


MIDNIGHT = tests("budget", "test_a_run_across_midnight_counts_on_both_days")
SPENT_DAY = tests("budget", "test_a_spent_day_answers_429_with_when_it_resets")
COOLDOWN = tests("budget", "test_after_a_teardown_start_is_refused_until_the_cooldown_ends")
# Tests on a clock pinned to a time of day: two budget tests of test_lifecycle_budget.py start at the real time and
# fail in the hour before midnight UTC, so no mutant relies on them.
TWO_RUNS = tests("budget_edges", "test_two_runs_on_one_day_add_up")
LIVE_RUN = tests("budget_edges", "test_the_status_counts_the_live_run_as_it_bills")
CAPS = tests("budget", "test_texts_stop_at_the_per_number_and_daily_caps_and_never_leave_the_allowlist")
FAILED_CREATE = tests(
    "start", "test_a_failed_create_marks_failed_texts_the_others_not_the_caller_and_allows_a_new_start"
)
SPELLINGS = tests("phones", "test_every_spelling_of_one_number_is_the_same_key")
NOT_A_NUMBER = tests("phones", "test_what_is_not_an_international_number_is_refused")
ALLOWLIST = tests("phones", "test_the_allowlist_matches_calling_codes_on_the_canonical_form")
BARE_PLUS_ONE = tests("phones", "test_a_bare_plus_one_means_the_us_and_canada_not_the_caribbean")
ATTACK_SHAPES = tests("phones", "test_the_three_numbers_the_attack_found_are_refused_or_read_as_what_they_are")
OTHER_NANP_COUNTRIES = tests("phones_plan", "test_a_bare_plus_one_never_texts_a_number_of_another_country")
US_TERRITORIES = tests("phones_plan", "test_a_bare_plus_one_texts_the_us_its_territories_and_canada")
PLUS_ONE_ENTRIES = tests("phones_plan", "test_a_plus_one_entry_is_the_whole_plan_or_one_area_code")
CODE_LISTS = tests("phones_plan", "test_an_allowlist_reads_loosely_written_lists_and_refuses_what_no_calling_code_is")
WINDOW = tests("rate_limits", "test_a_window_refuses_without_counting_then_resets_and_never_stores_the_number")
FOURTH_START = tests("rate_limits", "test_the_fourth_start_for_one_phone_in_the_hour_is_429_with_retry_after")
ONE_CLIENT = tests("rate_limits", "test_one_client_cannot_text_a_stream_of_phone_numbers")
PACING = tests("rate_limits", "test_texts_go_out_about_one_a_second")
NO_PEPPER = tests("rate_limiter", "test_without_a_pepper_nothing_is_counted")
RESTART_STOPPED = tests("admission", "TestStartLimits::test_a_client_restarting_a_stopped_model_is_counted")
RESTART_FAILED = tests("admission", "TestStartLimits::test_a_client_restarting_after_a_failed_start_is_counted")
EXTENDED_TEARDOWN = tests(
    "races", "test_a_teardown_that_read_the_old_expiry_does_not_stop_a_model_someone_just_extended"
)
LOST_TEARDOWN = tests("races", "test_a_teardown_that_loses_its_write_to_a_prediction_still_tears_down")
TEARDOWN_STORM = tests("races", "test_a_teardown_losing_write_after_write_backs_off_a_little_longer_each_time_and_wins")
TWO_STARTS = tests("races", "test_two_starts_at_once_create_one_endpoint_and_the_loser_is_subscribed")
EARLY_BUDGET_STOP = tests(
    "budget_edges", "test_a_budget_stop_run_anywhere_in_its_window_keeps_the_day_within_its_budget"
)
FAILED_LEFTOVER = tests(
    "admission",
    "test_a_failed_starts_endpoint_that_would_not_delete_is_deleted_by_the_reconciler_and_nothing_to_stop",
)
FAILED_AND_GONE = tests("admission", "test_a_failed_start_whose_endpoint_is_gone_leaves_the_reconciler_nothing_to_do")
FAILED_STILL_BILLS = tests(
    "not_deletable", "test_a_failed_starts_endpoint_bills_to_the_ledger_until_its_settling_event_deletes_it"
)
AT_EXPIRY = tests("teardown", "test_teardown_at_expiry_deletes_the_endpoint_and_stops")


MUTANTS: list[Mutant] = [
    # ----- budget.py: the ledger and the deadline -----
    Mutant(
        "budget.next-midnight-is-today",
        BUDGET,
        "    return start_of_day + DAY",
        "    return start_of_day",
        "next_midnight answers the start of today: runs are split at the wrong midnight, resets_at is in the past",
        MIDNIGHT + SPENT_DAY,
    ),
    Mutant(
        "budget.split-loop-inclusive",
        BUDGET,
        "    while moment < end:",
        "    while moment <= end:",
        "seconds_by_day loops forever once it reaches the end of the span",
        MIDNIGHT,
    ),
    Mutant(
        "budget.split-to-the-later-end",
        BUDGET,
        "until = min(end, next_midnight(moment))",
        "until = max(end, next_midnight(moment))",
        "a run across midnight is charged wholly to the day it began",
        MIDNIGHT,
    ),
    Mutant(
        "budget.split-without-sum",
        BUDGET,
        "split.get(day_key(moment), 0.0) + (until - moment).total_seconds()",
        "(until - moment).total_seconds()",
        "seconds_by_day overwrites a day's share instead of adding to it",
        MIDNIGHT,
        equivalent="the loop steps from midnight to midnight, so each day of the span is visited once and its sum "
        "starts from nothing",
    ),
    Mutant(
        "budget.charge-overwrites-the-day",
        BUDGET,
        "updated[day] = updated.get(day, 0.0) + seconds",
        "updated[day] = seconds",
        "a second run on one day replaces the first run's minutes instead of adding to them",
        TWO_RUNS,
    ),
    Mutant(
        "budget.ledger-keeps-the-oldest-days",
        BUDGET,
        "keep = sorted(updated)[-LEDGER_DAYS:]",
        "keep = sorted(updated)[:LEDGER_DAYS]",
        "the ledger prunes today and keeps the oldest days",
        MIDNIGHT,
    ),
    Mutant(
        "budget.ledger-two-days",
        BUDGET,
        "LEDGER_DAYS = 3",
        "LEDGER_DAYS = 2",
        "the ledger forgets the day before yesterday (a run over midnight, then another start)",
        MIDNIGHT,
    ),
    Mutant(
        "budget.live-run-boundary",
        BUDGET,
        "item.run_started_at < now:",
        "item.run_started_at <= now:",
        "a run that began this instant is counted",
        LIVE_RUN,
        equivalent="a run that began this instant has billed nothing: seconds_by_day of an empty span is empty",
    ),
    Mutant(
        "budget.live-run-not-counted",
        BUDGET,
        "        used += seconds_by_day(item.run_started_at, now).get(key, 0.0)",
        "        pass",
        "the status's minutes used today leave out the run that is billing now",
        LIVE_RUN,
    ),
    Mutant(
        "budget.spent-day-boundary",
        BUDGET,
        "        if left <= 0:",
        "        if left < 0:",
        "a day with exactly nothing left is not taken as spent at once",
        MIDNIGHT + SPENT_DAY,
        equivalent="with exactly nothing left the next test (moment + 0 s < midnight) returns the same moment",
    ),
    Mutant(
        "budget.midnight-boundary",
        BUDGET,
        "        if moment + timedelta(seconds=left) < midnight:",
        "        if moment + timedelta(seconds=left) <= midnight:",
        "a run whose budget lasts exactly to midnight stops there instead of going on on tomorrow's budget",
        tests("budget_edges", "test_a_run_reaching_midnight_on_todays_budget_goes_on_on_tomorrows"),
    ),
    Mutant(
        "budget.ledger-ignored",
        BUDGET,
        "        left = budget_seconds - ledger.get(day_key(moment), 0.0)",
        "        left = budget_seconds",
        "the deadline ignores what the day already spent",
        SPENT_DAY + MIDNIGHT,
    ),
    Mutant(
        "budget.whole-days-end-now",
        BUDGET,
        "    return moment\n\n\ndef current_deadline",
        "    return run_start\n\n\ndef current_deadline",
        "with a whole day of budget (GPU_MINUTES_PER_DAY=1440) the deadline is the run's start: nothing may start",
        tests("budget_edges", "test_a_whole_day_of_budget_never_refuses_a_start_nor_shortens_a_run"),
    ),
    Mutant(
        "budget.one-day-lookahead",
        BUDGET,
        "    for _ in range(LEDGER_DAYS):",
        "    for _ in range(1):",
        "the deadline never looks past the first midnight",
        MIDNIGHT + tests("budget_edges", "test_a_run_reaching_midnight_on_todays_budget_goes_on_on_tomorrows"),
    ),
    Mutant(
        "budget.no-run-no-deadline",
        BUDGET,
        "    if item.run_started_at is None:\n        return None\n    return run_deadline",
        "    return run_deadline",
        "an endpoint in service since before the budget existed (no run_started_at) cannot be extended",
        tests("budget_edges", "test_an_endpoint_in_service_from_before_the_budget_still_extends"),
    ),
    Mutant(
        "budget.left-below-zero",
        BUDGET,
        "round(max(0.0, gpu_minutes_per_day - used_minutes), 1)",
        "round(gpu_minutes_per_day - used_minutes, 1)",
        "the status shows negative minutes left after a run overran the budget",
        tests("budget_edges", "test_a_run_that_overran_the_budget_shows_nothing_left_not_less"),
    ),
    # ----- phones.py: one canonical number (libphonenumber's), the allowlist -----
    Mutant(
        "phones.nfc-not-nfkc",
        PHONES,
        'unicodedata.normalize("NFKC", raw)',
        'unicodedata.normalize("NFC", raw)',
        "fullwidth digits and plus are not folded: one number gets two keys",
        SPELLINGS,
    ),
    Mutant(
        "phones.no-strip",
        PHONES,
        'normalize("NFKC", raw).strip()',
        'normalize("NFKC", raw)',
        "surrounding whitespace is not stripped first",
        SPELLINGS,
        equivalent="SEPARATORS removes every whitespace character anywhere, the ends included",
    ),
    Mutant(
        "phones.trunk-zero-taken-for-00",
        PHONES,
        'compact.startswith("00")',
        'compact.startswith("0")',
        '"01298 200000" (a UK number, national form) becomes +298200000, a number of the Faroe Islands',
        tests("phones_plan", "test_a_national_number_with_a_trunk_zero_is_refused_not_read_as_another_country"),
    ),
    Mutant(
        "phones.double-zero-slice",
        PHONES,
        'compact = "+" + compact[2:]',
        'compact = "+" + compact[1:]',
        '"00" is replaced by "+0"',
        SPELLINGS + tests("phones_plan", "test_a_double_zero_prefix_is_the_international_plus"),
    ),
    Mutant(
        "phones.no-ascii-check",
        PHONES,
        "if not compact.isascii() or not INTERNATIONAL.fullmatch(compact):",
        "if not INTERNATIONAL.fullmatch(compact):",
        "digits of other scripts are not refused before the pattern",
        NOT_A_NUMBER,
        equivalent="INTERNATIONAL's [0-9] ranges match ASCII digits only (a str pattern's explicit range), so no "
        "other script gets through it",
    ),
    Mutant(
        "phones.library-reads-letters",
        PHONES,
        "not compact.isascii() or not INTERNATIONAL.fullmatch(compact)",
        'not compact.startswith("+")',
        'the library gets letters, extensions and other scripts\' digits: "+1 202 CALL NOW" is +12022255669',
        NOT_A_NUMBER,
    ),
    Mutant(
        "phones.possible-not-valid",
        PHONES,
        "phonenumbers.is_valid_number(number)",
        "phonenumbers.is_possible_number(number)",
        'a number of the right length is taken: "+1 555 555 0100" (no area code 555) gets a counter of its own',
        NOT_A_NUMBER,
    ),
    Mutant(
        "phones.digits-kept-not-canonical",
        PHONES,
        "    compact = phonenumbers.format_number(valid_number(compact), phonenumbers.PhoneNumberFormat.E164)\n",
        "    valid_number(compact)\n",
        'the typed digits are the key: "+1 1 876 555 0100" is +118765550100, a second key for a Jamaican number',
        SPELLINGS + ATTACK_SHAPES,
    ),
    Mutant(
        "phones.three-digit-codes",
        PHONES,
        r'COUNTRY_CODE = re.compile(r"\+[1-9][0-9]{0,3}")',
        r'COUNTRY_CODE = re.compile(r"\+[1-9][0-9]{0,2}")',
        'an allowlist cannot name a +1 area code such as "+1876" (Jamaica)',
        BARE_PLUS_ONE + CODE_LISTS,
    ),
    Mutant(
        "phones.three-digit-calling-codes-unknown",
        PHONES,
        "for end in (2, 3, 4)",
        "for end in (2, 3)",
        'an allowlist cannot name a three-digit calling code such as "+683" (Niue)',
        CODE_LISTS,
    ),
    Mutant(
        "phones.any-calling-code",
        PHONES,
        " or not any(code[1:end] in CALLING_CODES for end in (2, 3, 4))",
        "",
        'an allowlist takes "+2" or "+999", which no country has: it matches nothing, and the owner is not told',
        CODE_LISTS,
    ),
    Mutant(
        "phones.empty-entry",
        PHONES,
        'for part in spec.split(",") if part.strip())',
        'for part in spec.split(","))',
        "a trailing or doubled comma in SMS_COUNTRY_CODES is an error instead of nothing",
        CODE_LISTS,
    ),
    Mutant(
        "phones.partial-area-code",
        PHONES,
        'if code.startswith("+1") and len(code) not in (2, 5):',
        "if False:",
        'an allowlist takes "+12", which covers the Bahamas, Barbados and three more countries with US area codes',
        PLUS_ONE_ENTRIES,
    ),
    Mutant(
        "phones.uncanonical-allowed",
        PHONES,
        "    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != phone:\n"
        "        return False\n",
        "",
        'is_allowed takes "+1 202 555 0100" (not canonical) as allowed',
        ALLOWLIST,
    ),
    Mutant(
        "phones.allowlist-skips-validity",
        PHONES,
        "        number = valid_number(phone)\n",
        "        number = phonenumbers.parse(phone, None)\n",
        "is_allowed takes +447700900123, a number the UK does not have, under +44",
        ALLOWLIST,
    ),
    Mutant(
        "phones.any-plus-one-country",
        PHONES,
        "in US_AND_CANADA",
        "is not None",
        'a bare "+1" texts every country of the +1 plan: Jamaica, the Bahamas, Bermuda',
        BARE_PLUS_ONE + OTHER_NANP_COUNTRIES + ATTACK_SHAPES,
    ),
    *(
        Mutant(
            f"phones.plus-one-without-{region}",
            PHONES,
            f'"{region}"',
            '"--"',
            f'a bare "+1" no longer texts {name}',
            US_TERRITORIES,
        )
        for region, name in (
            ("US", "the US"),
            ("CA", "Canada"),
            ("PR", "Puerto Rico"),
            ("VI", "the US Virgin Islands"),
            ("GU", "Guam"),
            ("MP", "the Northern Mariana Islands"),
            ("AS", "American Samoa"),
        )
    ),
    Mutant(
        "phones.own-code-ignored",
        PHONES,
        'if code == "+1":',
        'if code.startswith("+1"):',
        "an owner listing +1876 still cannot text Jamaica: the entry is read as a bare +1",
        BARE_PLUS_ONE + OTHER_NANP_COUNTRIES,
    ),
    Mutant(
        "phones.prefix-too-short",
        PHONES,
        "elif phone.startswith(code):",
        "elif phone.startswith(code[:2]):",
        "an entry allows its first digit's whole zone: +44 lets in +49, +1876 the Dominican Republic",
        ALLOWLIST + BARE_PLUS_ONE,
    ),
    Mutant(
        "phones.describe-any-plus-one",
        PHONES,
        'if code == "+1" else code',
        'if code.startswith("+1") else code',
        '"+1876" is described to a caller as the US and Canada',
        tests("phones_plan", "test_only_a_bare_plus_one_is_described_as_the_us_and_canada"),
    ),
    # ----- adapters/rate_limit.py: fixed windows on DynamoDB -----
    Mutant(
        "rate.hash-without-pepper",
        RATE_LIMIT,
        "    if not pepper:\n",
        "    if False:\n",
        "hashed() accepts an empty pepper: the keys are plain hashes anyone can reverse",
        NO_PEPPER,
    ),
    Mutant(
        "rate.no-pepper-unchecked",
        RATE_LIMIT,
        "            if not value:\n",
        "            if False:\n",
        "a missing pepper is not reported as such (RATE_LIMIT_PEPPER_SECRET)",
        NO_PEPPER,
    ),
    Mutant(
        "rate.pepper-read-every-time",
        RATE_LIMIT,
        "        if self._pepper is None:\n",
        "        if True:\n",
        "the pepper (a Secrets Manager read) is read on every use instead of once",
        tests("rate_limiter", "test_the_pepper_is_read_once"),
    ),
    Mutant(
        "rate.window-ends-at-its-start",
        RATE_LIMIT,
        "window_end = (window + 1) * window_seconds",
        "window_end = window * window_seconds",
        "Retry-After counts to the start of the window",
        WINDOW,
    ),
    Mutant(
        "rate.counter-expires-with-its-window",
        RATE_LIMIT,
        "model.expires_at.set(window_end + window_seconds)",
        "model.expires_at.set(window_end)",
        "a counter's TTL is the end of its own window (TTL deletion runs late, but the test pins the margin)",
        WINDOW,
    ),
    Mutant(
        "rate.limit-inclusive",
        RATE_LIMIT,
        "(model.hits < limit)",
        "(model.hits <= limit)",
        "one use more than the limit is allowed",
        WINDOW,
    ),
    Mutant(
        "rate.first-use-refused",
        RATE_LIMIT,
        "condition=model.hits.does_not_exist() | (model.hits < limit),",
        "condition=(model.hits < limit),",
        "the first use of a window is refused (no counter yet)",
        WINDOW,
    ),
    Mutant(
        "rate.counts-two",
        RATE_LIMIT,
        "model.hits.add(1)",
        "model.hits.add(2)",
        "each use counts twice",
        WINDOW,
    ),
    Mutant(
        "rate.retry-after-rounds-down",
        RATE_LIMIT,
        "math.ceil(window_end - now)",
        "int(window_end - now)",
        "Retry-After asks the caller back before the window ends",
        tests("rate_limiter", "test_retry_after_rounds_up_to_the_end_of_the_window"),
    ),
    Mutant(
        "rate.retry-after-no-floor",
        RATE_LIMIT,
        "return max(1, math.ceil(window_end - now))",
        "return math.ceil(window_end - now)",
        "Retry-After may be 0",
        WINDOW,
        equivalent="now is always before the end of the window it falls in, so the ceiling is at least 1",
    ),
    Mutant(
        "rate.any-error-is-a-full-window",
        RATE_LIMIT,
        '            if exc.cause_response_code == "ConditionalCheckFailedException":\n'
        "                return max(1, math.ceil(window_end - now))\n"
        "            raise",
        "            return max(1, math.ceil(window_end - now))",
        "any DynamoDB error (a missing table, throttling) is silently taken for 'limit reached' (429)",
        tests("rate_limiter", "test_a_dynamodb_error_is_an_error_not_a_full_window"),
    ),
    Mutant(
        "rate.one-window-forever",
        RATE_LIMIT,
        'model(f"{hashed(key, self.pepper)}#{window}")',
        "model(hashed(key, self.pepper))",
        "the counter key has no window: a limit reached once is reached forever",
        WINDOW,
    ),
    Mutant(
        "rate.plain-hash",
        RATE_LIMIT,
        "return hmac.new(pepper, value.encode(), hashlib.sha256).hexdigest()",
        "return hashlib.sha256(value.encode()).hexdigest()",
        "keys are plain SHA-256 of the phone number: a copy of the table can be reversed",
        tests("rate_limiter", "test_a_copy_of_the_table_does_not_name_the_number_without_the_pepper"),
    ),
    # ----- handlers/api.py: the start limits -----
    Mutant(
        "api.no-limiter-crashes",
        STARTS,
        "        if self.rate_limiter is None:\n"
        "            return\n"
        "        window = self.settings.start_limit_window_seconds",
        "        window = self.settings.start_limit_window_seconds",
        "a stack without a rate table fails every /start",
        tests("rate_limits", "test_the_limit_is_off_without_a_rate_table"),
    ),
    Mutant(
        "api.client-limit-only-with-a-phone",
        BUDGET,
        "return phone is not None or state in (State.STOPPED, State.FAILED)",
        "return phone is not None",
        "a client may create endpoint after endpoint without a phone, uncounted",
        RESTART_STOPPED + RESTART_FAILED,
    ),
    Mutant(
        "api.client-limit-not-after-a-failure",
        BUDGET,
        "return phone is not None or state in (State.STOPPED, State.FAILED)",
        "return phone is not None or state in (State.STOPPED,)",
        "a start after a failed start is not counted against the client",
        RESTART_FAILED,
    ),
    Mutant(
        "api.client-limit-and",
        BUDGET,
        "return phone is not None or state in",
        "return phone is not None and state in",
        "only starts with a phone from STOPPED or FAILED count against the client",
        RESTART_STOPPED + ONE_CLIENT,
    ),
    Mutant(
        "api.client-limit-is-the-phone-limit",
        STARTS,
        "settings.start_limit_per_client, window)",
        "settings.start_limit_per_phone, window)",
        "the per-client limit uses START_LIMIT_PER_PHONE",
        ONE_CLIENT,
    ),
    Mutant(
        "api.client-wait-inverted",
        STARTS,
        "self.settings.start_limit_per_client, window)\n            if wait is not None:",
        "self.settings.start_limit_per_client, window)\n            if wait is None:",
        "a client within its limit is refused and one over it let through",
        ONE_CLIENT,
    ),
    Mutant(
        "api.phone-limit-without-a-phone",
        STARTS,
        '        if phone is not None:\n            wait = self.rate_limiter.acquire(f"start#phone#',
        '        if phone is None:\n            wait = self.rate_limiter.acquire(f"start#phone#',
        "the per-phone limit counts starts without a phone and never those with one",
        FOURTH_START,
    ),
    Mutant(
        "api.phone-limit-keyed-by-client",
        STARTS,
        'f"start#phone#{phone}"',
        'f"start#phone#{client}"',
        "another address resets the per-phone limit",
        FOURTH_START,
    ),
    Mutant(
        "api.client-limit-keyed-by-phone",
        STARTS,
        'f"start#client#{client}"',
        'f"start#client#{phone}"',
        "one client texting a stream of phones is counted per phone",
        ONE_CLIENT,
    ),
    Mutant(
        "api.window-a-minute",
        STARTS,
        "window = self.settings.start_limit_window_seconds",
        "window = 60",
        "the start limits reset every minute instead of START_LIMIT_WINDOW_SECONDS",
        tests("admission", "TestStartLimits::test_the_per_phone_window_lasts_the_configured_hour"),
    ),
    Mutant(
        "api.start-unlimited",
        STARTS,
        "        if client is not None:\n            self.limit(phone, client)\n",
        "",
        "POST /start skips the limits",
        FOURTH_START,
    ),
    Mutant(
        "api.any-country",
        API,
        "    if not is_allowed(phone, codes):\n",
        "    if False:\n",
        "POST /start takes a phone outside SMS_COUNTRY_CODES",
        tests("api", "test_a_phone_outside_the_allowed_countries_is_refused_before_anything_happens"),
    ),
    # ----- the lifecycle's conditional writes -----
    Mutant(
        "writes.one-attempt",
        WRITES,
        "MAX_WRITE_ATTEMPTS = 60",
        "MAX_WRITE_ATTEMPTS = 1",
        "one lost write is an error: a teardown losing to a prediction fails",
        LOST_TEARDOWN,
    ),
    Mutant(
        "writes.eight-attempts",
        WRITES,
        "MAX_WRITE_ATTEMPTS = 60",
        "MAX_WRITE_ATTEMPTS = 8",
        "eight lost writes in a row are an error",
        TEARDOWN_STORM,
    ),
    Mutant(
        "writes.field-update-ignores-version",
        WRITES,
        "self.store.update(expected, reason, expected_version=current.version, **fields)",
        "self.store.update(expected, reason, expected_version=None, **fields)",
        "a field update decided on a stale read wins anyway: a resumed start is created twice",
        tests(
            "races",
            "test_a_waiting_start_is_created_once_when_its_leftovers_event_and_the_reconciler_resume_it_together",
        ),
    ),
    Mutant(
        "writes.transition-ignores-version",
        WRITES,
        "self.store.transition(expected, to, reason, expected_version=current.version, **fields)",
        "self.store.transition(expected, to, reason, expected_version=None, **fields)",
        "a transition decided on a stale read wins anyway: a teardown stops a model just extended, a promotion "
        "misses a subscriber who joined meanwhile",
        EXTENDED_TEARDOWN
        + tests("races", "test_a_promotion_texts_a_subscriber_who_joined_between_its_read_and_its_write"),
    ),
    Mutant(
        "writes.gives-up-after-a-lost-write",
        WRITES,
        "            except ConflictError:\n                continue\n            return current, after",
        "            except ConflictError:\n                return None\n            return current, after",
        "a write lost to a concurrent writer gives up: the endpoint bills until the reconciler",
        LOST_TEARDOWN,
    ),
    Mutant(
        "writes.no-backoff",
        WRITES,
        "            if attempt:\n                self.sleep(min(0.5, 0.01 * attempt) * random.random())\n",
        "",
        "a lost write is retried at once, hammering the table",
        LOST_TEARDOWN,
    ),
    Mutant(
        "writes.silent-exhaustion",
        WRITES,
        "            return current, after\n        raise ConflictError(KEEPS_CHANGING)",
        "            return current, after\n        return None",
        "a write that never wins is taken for 'nothing to do' instead of failing for a retry",
        tests(
            "races", "TestSixtyLostWrites::test_a_teardown_that_never_wins_its_write_fails_so_the_schedule_retries_it"
        ),
    ),
    Mutant(
        "writes.guard-ignored",
        WRITES,
        "            if current.state not in expected or not guard(current):",
        "            if current.state not in expected:",
        "the retry after a lost write does not re-check the guard on the fresh read",
        EXTENDED_TEARDOWN,
    ),
    Mutant(
        "writes.state-and-guard",
        WRITES,
        "            if current.state not in expected or not guard(current):",
        "            if current.state not in expected and not guard(current):",
        "a write goes ahead when only one of the state and the guard holds",
        EXTENDED_TEARDOWN,
    ),
    Mutant(
        "writes.derive-dropped",
        WRITES,
        "fields = {**changes, **(derive(current) if derive else {})}",
        "fields = dict(changes)",
        "fields derived from the fresh read (the budget's ledger, expires_at) are never written",
        TWO_RUNS,
    ),
    Mutant(
        "writes.derive-first",
        WRITES,
        "fields = {**changes, **(derive(current) if derive else {})}",
        "fields = {**(derive(current) if derive else {}), **changes}",
        "fixed changes override derived ones",
        TWO_RUNS + AT_EXPIRY,
        equivalent="no caller passes a field both as a change and from derive, so the order of the merge never matters",
    ),
    Mutant(
        "writes.update-and-transition-swapped",
        WRITES,
        "                if to is None:\n",
        "                if to is not None:\n",
        "a transition is written as a field update and the other way round",
        AT_EXPIRY,
    ),
    Mutant(
        "writes.no-jitter",
        WRITES,
        "self.sleep(min(0.5, 0.01 * attempt) * random.random())",
        "self.sleep(min(0.5, 0.01 * attempt))",
        "writers that lost together retry together",
        TEARDOWN_STORM,
    ),
    Mutant(
        "writes.backoff-ten-times-longer",
        WRITES,
        "0.01 * attempt",
        "0.1 * attempt",
        "the backoff grows ten times faster",
        TEARDOWN_STORM,
    ),
    Mutant(
        "writes.first-backoff-zero",
        WRITES,
        "0.01 * attempt",
        "0.01 * (attempt - 1)",
        "the first retry after a lost write does not wait",
        TEARDOWN_STORM,
    ),
    # ----- admission: start, the budget and cooldown checks, the subscriber list -----
    Mutant(
        "admission.failed-cannot-start",
        STARTS,
        "if current.state in (State.STOPPED, State.FAILED):",
        "if current.state in (State.STOPPED,):",
        "after a failed start nobody can start again",
        FAILED_CREATE,
    ),
    Mutant(
        "admission.write-expects-stopped",
        STARTS,
        "                        [State.STOPPED, State.FAILED],\n",
        "                        [State.STOPPED],\n",
        "the STARTING write refuses a FAILED item",
        FAILED_CREATE,
    ),
    Mutant(
        "admission.start-ignores-version",
        STARTS,
        "                        expected_version=current.version,\n                        endpoint_name=",
        "                        expected_version=None,\n                        endpoint_name=",
        "a start decided on a stale read wins anyway: it reuses the name of a start that failed meanwhile",
        tests("races", "test_a_start_racing_a_start_that_failed_gets_an_endpoint_name_of_its_own"),
    ),
    Mutant(
        "admission.name-from-the-version-read",
        STARTS,
        "self.new_endpoint_name(current.version + 1)",
        "self.new_endpoint_name(current.version)",
        "the endpoint name carries the version read instead of the version written",
        tests("start", "test_a_stop_and_a_start_in_the_same_second_use_different_names")
        + tests("races", "test_a_start_racing_a_start_that_failed_gets_an_endpoint_name_of_its_own"),
        equivalent="the suffix only has to differ between starts: a start's write succeeds only at the version it "
        "read and bumps it, so the version read is as unique per start as the version written",
    ),
    Mutant(
        "admission.caller-not-subscribed",
        STARTS,
        "subscribers=[phone] if phone else [],",
        "subscribers=[],",
        "the caller who starts the model is not texted when it is ready",
        tests("start", "test_the_first_start_creates_one_endpoint_named_with_the_prefix"),
    ),
    Mutant(
        "admission.old-error-kept",
        STARTS,
        "                        last_error=None,\n",
        "",
        "a new start shows the last failure's sentence",
        FAILED_CREATE,
    ),
    Mutant(
        "admission.old-error-code-kept",
        STARTS,
        "                        last_error_code=None,\n",
        "",
        "a new start shows the last failure's code",
        tests("admission", "test_a_new_start_after_a_failure_shows_no_error_of_the_old_one"),
    ),
    Mutant(
        "admission.old-use-kept",
        STARTS,
        "                        last_used_at=None,\n",
        "",
        "a prediction of the previous run lets the new one be extended without being used",
        tests("budget_edges", "test_a_new_run_needs_its_own_prediction_before_an_extend"),
    ),
    Mutant(
        "admission.old-waiting-kept",
        STARTS,
        "                        waiting_for=None,\n",
        "",
        "a new start inherits the leftover a stopped start waited for: its late event creates the endpoint again",
        tests("admission", "test_a_late_event_of_an_old_leftover_does_not_create_a_new_starts_endpoint_again"),
    ),
    Mutant(
        "admission.old-expiry-kept",
        STARTS,
        "                        expires_at=None,\n",
        "",
        "a new start keeps the item's expires_at",
        FAILED_CREATE,
        equivalent="a STOPPED item has none (the stopping write clears it) and a FAILED one comes from STARTING, "
        "which never has one",
    ),
    Mutant(
        "admission.old-in-service-kept",
        STARTS,
        "                        in_service_at=None,\n",
        "",
        "a new start keeps the item's in_service_at",
        FAILED_CREATE,
        equivalent="a STOPPED item has none (the stopping write clears it) and a FAILED one comes from STARTING, "
        "which never has one",
    ),
    Mutant(
        "admission.old-notice-kept",
        STARTS,
        "                        notice_sent_at=None,\n                        last_error_code=None,",
        "                        last_error_code=None,",
        "a new start keeps the last run's notice_sent_at",
        tests("notice", "test_everyone_who_asked_gets_one_text_with_the_time_and_the_page"),
        equivalent="nothing reads notice_sent_at before IN_SERVICE, and the promotion, the only way there, sets it "
        "to None too",
    ),
    Mutant(
        "admission.run-not-started",
        STARTS,
        "                        run_started_at=now,\n",
        "",
        "a start does not open its run in the ledger: the budget never counts it",
        LIVE_RUN,
    ),
    Mutant(
        "admission.no-budget-stop",
        STARTS,
        "                self.schedule_budget_stop(started)\n",
        "",
        "a start that may outlast the budget gets no teardown at the budget's end",
        EARLY_BUDGET_STOP,
    ),
    Mutant(
        "admission.budget-stop-flipped",
        STARTS,
        "stop_at <= self.now() + timeout:",
        "stop_at > self.now() + timeout:",
        "the budget stop is scheduled for the starts that cannot outlast the budget, not those that can",
        EARLY_BUDGET_STOP,
    ),
    Mutant(
        "admission.duplicate-phone-retried",
        BUDGET,
        "    if phone in subscribers:\n        return Subscription.ALREADY_ON\n",
        "",
        "a second click with a subscribed phone loops on the store's refusal until 'too many people'",
        tests("start", "test_clicks_while_starting_add_subscribers_once_and_create_nothing"),
    ),
    Mutant(
        "admission.repeat-click-not-subscribed",
        STARTS,
        "subscribed=joining is Subscription.ALREADY_ON",
        "subscribed=False",
        "a repeated click with a subscribed phone is told it will not be texted",
        tests("admission", "test_clicking_start_again_with_the_same_phone_still_says_it_will_be_texted"),
    ),
    Mutant(
        "admission.full-list-boundary",
        BUDGET,
        "if len(subscribers) >= max_subscribers:",
        "if len(subscribers) > max_subscribers:",
        "a click on a full list is not answered 'not subscribed' but loops on the store's refusal",
        tests("start", "test_the_subscriber_list_is_bounded"),
    ),
    Mutant(
        "admission.store-limit-plus-one",
        STARTS,
        "cast(str, phone), self.settings.max_subscribers\n",
        "cast(str, phone), self.settings.max_subscribers + 1\n",
        "two phones taking the last place at once overfill the list",
        tests("races", "test_two_phones_taking_the_last_place_at_once_do_not_overfill_the_list"),
    ),
    Mutant(
        "admission.lost-subscribe-gives-up",
        STARTS,
        "                    continue  # no longer STARTING, or someone added this phone or filled the list: decide "
        "again",
        "                    return StartResult(current, created=False, subscribed=False)",
        "a subscribe lost to a concurrent click is answered 'not subscribed' without deciding again",
        tests("races", "test_two_clicks_with_one_phone_at_once_both_say_it_will_be_texted"),
    ),
    Mutant(
        "admission.in-service-says-subscribed",
        STARTS,
        "            if current.state == State.IN_SERVICE:\n"
        "                return StartResult(current, created=False, subscribed=False)",
        "            if current.state == State.IN_SERVICE:\n"
        "                return StartResult(current, created=False, subscribed=True)",
        "a start while in service tells the caller it will be texted (nobody texts it)",
        tests("admission", "test_a_start_while_in_service_says_nobody_will_be_texted"),
    ),
    Mutant(
        "admission.lost-start-write-raises",
        STARTS,
        "                except ConflictError:\n"
        "                    continue\n"
        "                self.schedule_budget_stop(started)",
        "                except ConflictError:\n"
        "                    raise\n"
        "                self.schedule_budget_stop(started)",
        "the loser of two simultaneous starts gets a 409 instead of being subscribed",
        TWO_STARTS,
    ),
    Mutant(
        "admission.exhausted-start-silent",
        STARTS,
        "        raise ConflictError(TOO_MANY_STARTING)",
        "        return StartResult(current, created=False, subscribed=False)",
        "a start that never wins its write answers as if nothing were wrong",
        tests("races", "TestSixtyLostWrites::test_a_start_that_never_wins_its_write_answers_409"),
    ),
    Mutant(
        "admission.cooldown-inclusive",
        BUDGET,
        "now < item.cooldown_until:",
        "now <= item.cooldown_until:",
        "a start at the very end of the cooldown is refused",
        COOLDOWN,
    ),
    Mutant(
        "admission.cooldown-ignored",
        BUDGET,
        "    if item.cooldown_until is not None and now < item.cooldown_until:",
        "    if False:",
        "the cooldown after a teardown is not enforced",
        COOLDOWN,
    ),
    Mutant(
        "admission.cooldown-retry-zero",
        BUDGET,
        "max(1, int((item.cooldown_until - now).total_seconds()))",
        "int((item.cooldown_until - now).total_seconds())",
        "in the last second of a cooldown Retry-After says 0",
        tests("budget_edges", "test_half_a_second_of_cooldown_left_asks_for_a_retry_in_one_second"),
    ),
    Mutant(
        "admission.min-run-inclusive",
        BUDGET,
        "if deadline - now < timedelta(minutes=min_run_minutes):",
        "if deadline - now <= timedelta(minutes=min_run_minutes):",
        "a start with exactly the minimum run left is refused",
        tests("budget_edges", "test_a_start_with_exactly_the_minimum_run_left_may_start"),
    ),
    Mutant(
        "admission.min-run-ignored",
        BUDGET,
        "if deadline - now < timedelta(minutes=min_run_minutes):",
        "if deadline - now < timedelta(0):",
        "a start with minutes of budget left is allowed",
        SPENT_DAY,
    ),
    Mutant(
        "admission.budget-in-minutes-as-seconds",
        BUDGET,
        "deadline = run_deadline(ledger, now, gpu_minutes_per_day * 60)",
        "deadline = run_deadline(ledger, now, gpu_minutes_per_day)",
        "the start's budget check reads GPU_MINUTES_PER_DAY as seconds",
        SPENT_DAY + TWO_RUNS,
    ),
    Mutant(
        "admission.run-deadline-in-minutes-as-seconds",
        PROMOTION,
        "budget = self.settings.gpu_minutes_per_day",
        "budget = self.settings.gpu_minutes_per_day / 60",
        "a promotion's expires_at reads GPU_MINUTES_PER_DAY as hours",
        tests("budget_edges", "test_a_whole_day_of_budget_never_refuses_a_start_nor_shortens_a_run")
        + EARLY_BUDGET_STOP,
    ),
    Mutant(
        "extend.deadline-in-minutes-as-seconds",
        SHUTDOWN,
        "budget_stop(current, self.settings.gpu_minutes_per_day)",
        "budget_stop(current, self.settings.gpu_minutes_per_day / 60)",
        "an extend reads GPU_MINUTES_PER_DAY as hours: it is refused as past the budget",
        tests("budget"),
    ),
    Mutant(
        "admission.budget-stop-deadline-in-minutes-as-seconds",
        STARTS,
        "budget_stop(started, self.settings.gpu_minutes_per_day)",
        "budget_stop(started, self.settings.gpu_minutes_per_day / 60)",
        "the budget stop of a start is scheduled at once, as if the budget were seconds",
        tests("budget") + tests("budget_edges"),
    ),
    Mutant(
        "teardown.past-budget-in-minutes-as-seconds",
        BUDGET,
        "    deadline = current_deadline(item, gpu_minutes_per_day * 60)\n    return None",
        "    deadline = current_deadline(item, gpu_minutes_per_day)\n    return None",
        "a start still provisioning after four minutes is failed as past the budget",
        tests("reconciler", "test_a_start_stuck_in_starting_past_the_limit_fails"),
    ),
    Mutant(
        "admission.cooldown-not-asked",
        STARTS,
        "                refuse_while_cooling_down(current, now)\n",
        "",
        "a start does not ask whether the cooldown after a teardown is over",
        COOLDOWN,
    ),
    Mutant(
        "admission.budget-not-asked",
        STARTS,
        "ledger_for_start(\n",
        "(lambda item, *_: dict(item.gpu_seconds_by_day))(\n",
        "a start does not ask whether the day's budget leaves the minimum run",
        SPENT_DAY,
    ),
    Mutant(
        "api.client-not-passed",
        API,
        "current.handle(Start(phone, client, ",
        "current.handle(Start(phone, None, ",
        "the API does not say who is starting: no start limit applies to callers from the internet",
        FOURTH_START,
    ),
    # ----- what the write ending a run sets -----
    Mutant(
        "closing.zero-cooldown-set",
        BUDGET,
        "    if cooldown_minutes > 0:",
        "    if cooldown_minutes >= 0:",
        "COOLDOWN_MINUTES=0 still writes a cooldown_until (of now)",
        COOLDOWN,
        equivalent="a zero cooldown ends the moment it begins: a start is refused only before cooldown_until, and "
        "the status shows it only while it is ahead (on one clock: a start on a Lambda whose clock lags the "
        "teardown's by a few milliseconds would be told to retry in a second)",
    ),
    Mutant(
        "closing.failure-no-cooldown",
        STARTS,
        "closing_fields(item, self.now(), self.settings.cooldown_minutes)",
        "closing_fields(item, self.now(), cooldown_minutes=0)",
        "a failed start sets no cooldown: a start that keeps failing writes the item on every request",
        FAILED_CREATE,
    ),
    Mutant(
        "closing.teardown-no-cooldown",
        SHUTDOWN,
        "return closing_fields(item, self.now(), self.settings.cooldown_minutes)",
        "return closing_fields(item, self.now(), 0)",
        "a teardown sets no cooldown",
        COOLDOWN,
    ),
    # ----- texting -----
    Mutant(
        "texting.refused-still-sent",
        TEXTING,
        '            self.finish(text, "refused")\n            return f"not sent: {refusal}"\n',
        '            self.finish(text, "refused")\n',
        "a number refused by a cap is texted anyway",
        CAPS,
    ),
    Mutant(
        "texting.pause-before-the-first",
        TEXTING,
        "        if self.has_sent:\n",
        "        if True:\n",
        "the pacing pause comes before the first text too",
        PACING,
    ),
    Mutant(
        "texting.no-pacing",
        TEXTING,
        "self.sleep(self.settings.sms_min_interval_seconds)",
        "None",
        "texts go out in a burst the provider throttles",
        PACING,
    ),
    Mutant(
        "texting.provider-error-stops-the-rest",
        TEXTING,
        '                logger.info("SMS %s to %s: attempt %d failed: %s", '
        "text.key, masked(text.phone), attempt, exc)\n",
        "                raise\n",
        "one unreachable number (sent without a queue) raises into the lifecycle and stops the texts after it",
        tests("events", "test_one_refused_and_one_unreachable_number_do_not_stop_the_others"),
    ),
    Mutant(
        "texting.queue-error-raises",
        TEXTING,
        '                logger.warning("SMS to %s not queued: %s", masked(phone), exc)\n'
        '                results.append(SendResult(ok=False, detail="not queued"))\n'
        "                continue\n",
        "                raise\n",
        "a text that cannot be queued fails the promotion after its write (the texts after it are lost)",
        tests("text_queue", "test_a_text_that_cannot_be_queued_is_logged_and_the_promotion_stands"),
    ),
    Mutant(
        "texting.sent-not-counted",
        TEXTING,
        '            results.append(SendResult(ok=True, detail="queued"))\n        return results',
        "        return results",
        "texts queued are left out of the results: the log's count is wrong",
        tests("events", "test_one_refused_and_one_unreachable_number_do_not_stop_the_others"),
    ),
    Mutant(
        "texting.allowlist-ignored",
        TEXTING,
        "        if not is_allowed(phone, self.settings.sms_country_codes):\n"
        '            return "country not in SMS_COUNTRY_CODES"\n',
        '        if False:\n            return "country not in SMS_COUNTRY_CODES"\n',
        "the sender texts a number outside SMS_COUNTRY_CODES that reached the queue",
        tests("text_queue", "test_a_number_outside_the_allowlist_is_neither_queued_nor_sent_from_a_forged_message"),
    ),
    Mutant(
        "texting.allowlist-not-checked-before-queueing",
        TEXTING,
        "            if not is_allowed(phone, self.settings.sms_country_codes):\n",
        "            if False:\n",
        "a number outside SMS_COUNTRY_CODES is queued (and reported queued)",
        tests("text_queue", "test_a_number_outside_the_allowlist_is_neither_queued_nor_sent_from_a_forged_message"),
    ),
    Mutant(
        "texting.no-limiter-crashes",
        TEXTING,
        "        if self.rate_limiter is None:\n            return None\n",
        "",
        "without a rate table no text goes out",
        tests("events", "test_in_service_promotes_schedules_teardown_and_texts_each_subscriber"),
    ),
    Mutant(
        "texting.one-counter-for-every-number",
        TEXTING,
        'acquire(f"sms#phone#{phone}"',
        'acquire("sms#phone"',
        "the per-number cap counts all numbers together",
        CAPS,
    ),
    Mutant(
        "texting.per-number-cap-is-the-days",
        TEXTING,
        "self.settings.sms_per_number_per_day, SMS_DAY_SECONDS",
        "self.settings.sms_per_day, SMS_DAY_SECONDS",
        "one number may take the whole day's texts",
        tests("texting", "test_the_per_number_cap_is_its_own_below_the_days"),
    ),
    Mutant(
        "texting.days-cap-is-the-per-number",
        TEXTING,
        '"sms#all", self.settings.sms_per_day,',
        '"sms#all", self.settings.sms_per_number_per_day,',
        "the day's cap is the per-number cap",
        CAPS,
    ),
    Mutant(
        "texting.hourly-caps",
        TEXTING,
        "SMS_DAY_SECONDS = 86400",
        "SMS_DAY_SECONDS = 3600",
        "the daily caps reset every hour",
        tests("texting", "test_the_caps_hold_for_the_whole_utc_day_and_reset_at_midnight"),
    ),
    Mutant(
        "texting.days-cap-checked-first",
        TEXTING,
        '        if self.rate_limiter.acquire(f"sms#phone#{phone}", self.settings.sms_per_number_per_day, '
        "SMS_DAY_SECONDS):\n"
        '            return "SMS_PER_NUMBER_PER_DAY reached"\n'
        '        if self.rate_limiter.acquire("sms#all", self.settings.sms_per_day, SMS_DAY_SECONDS):\n'
        '            self.rate_limiter.release(f"sms#phone#{phone}", SMS_DAY_SECONDS)\n'
        '            return "SMS_PER_DAY reached"\n',
        '        if self.rate_limiter.acquire("sms#all", self.settings.sms_per_day, SMS_DAY_SECONDS):\n'
        '            return "SMS_PER_DAY reached"\n'
        '        if self.rate_limiter.acquire(f"sms#phone#{phone}", self.settings.sms_per_number_per_day, '
        "SMS_DAY_SECONDS):\n"
        '            return "SMS_PER_NUMBER_PER_DAY reached"\n',
        "a text refused for its number still spends the day's cap",
        tests("texting", "test_a_text_refused_for_its_number_does_not_spend_the_days_cap")
        + tests("text_queue", "test_a_text_refused_for_its_number_spends_none_of_the_days_cap"),
    ),
    Mutant(
        "texting.days-cap-refusal-spends-the-number",
        TEXTING,
        '            self.rate_limiter.release(f"sms#phone#{phone}", SMS_DAY_SECONDS)\n'
        '            return "SMS_PER_DAY reached"\n',
        '            return "SMS_PER_DAY reached"\n',
        "a text refused by the day's cap still spends its number's allowance",
        tests("text_queue", "test_a_text_refused_by_the_days_cap_leaves_the_numbers_allowance_untouched"),
    ),
    Mutant(
        "texting.provider-failure-spends-the-caps",
        TEXTING,
        "            self.give_back_caps(phone)\n            self.release_claim(text)\n",
        "            self.release_claim(text)\n",
        "a text the provider failed still spends both caps, so its retry is refused",
        tests("text_queue", "test_a_provider_failure_is_retried_and_the_text_sent_once_spending_one_allowance"),
    ),
    Mutant(
        "texting.provider-failure-keeps-the-claim",
        TEXTING,
        "            self.release_claim(text)\n            detail = ",
        "            detail = ",
        "a text the provider failed keeps its claim, so every retry finds it busy and it is never sent",
        tests("text_queue", "test_a_provider_failure_is_retried_and_the_text_sent_once_spending_one_allowance"),
    ),
    Mutant(
        "texting.duplicate-sent-again",
        TEXTING,
        "        if claim is ClaimState.DONE:\n",
        "        if False:\n",
        "a duplicate delivery of a text already sent sends it again",
        tests("text_queue", "test_a_duplicate_delivery_of_a_sent_text_sends_nothing"),
    ),
    Mutant(
        "texting.per-number-inverted",
        TEXTING,
        'if self.rate_limiter.acquire(f"sms#phone#',
        'if not self.rate_limiter.acquire(f"sms#phone#',
        "a number within its cap is refused",
        CAPS,
    ),
    Mutant(
        "texting.promotion-texts-the-written-item",
        PROMOTION,
        "self.texting.tell_ready(before.subscribers, expires_at)",
        "self.texting.tell_ready(after.subscribers, expires_at)",
        "the ready text goes to the item's list as written rather than as read",
        tests("events", "test_in_service_promotes_schedules_teardown_and_texts_each_subscriber"),
        equivalent="the promoting write does not change the subscribers: the item it replaced and the item it wrote "
        "list the same phones",
    ),
    Mutant(
        "texting.failure-texts-the-caller",
        STARTS,
        "[phone for phone in before.subscribers if phone != spare]",
        "list(before.subscribers)",
        "the caller whose own start failed is texted as well as answered",
        FAILED_CREATE,
    ),
    # ----- the notice and extend: their own conditional writes -----
    Mutant(
        "notice.ignores-version",
        SHUTDOWN,
        "expected_version=current.version, notice_sent_at=self.now()",
        "expected_version=None, notice_sent_at=self.now()",
        "two firings of the notice at once text everyone twice; a notice read before an extend texts the old time",
        tests("races", "test_two_firings_of_the_notice_at_once_text_each_subscriber_once")
        + tests("races", "test_a_notice_that_read_the_old_deadline_says_nothing_after_an_extend"),
    ),
    Mutant(
        "notice.gives-up-after-a-lost-write",
        SHUTDOWN,
        "            except ConflictError:\n                continue\n            sent = self.texting.tell_stops_soon(",
        "            except ConflictError:\n"
        '                return "skipped: lost the write"\n'
        "            sent = self.texting.tell_stops_soon(",
        "a notice that loses its write to a prediction is never sent",
        tests("races", "test_a_notice_that_loses_its_write_to_a_prediction_is_still_sent"),
    ),
    Mutant(
        "notice.sent-twice",
        SHUTDOWN,
        "            if current.notice_sent_at is not None:\n",
        "            if False:\n",
        "a repeated delivery of the notice texts everyone again",
        tests("notice", "test_everyone_who_asked_gets_one_text_with_the_time_and_the_page"),
    ),
    Mutant(
        "extend.ignores-version",
        SHUTDOWN,
        "expected_version=current.version, expires_at=new_expiry",
        "expected_version=None, expires_at=new_expiry",
        "an extend decided on a stale read moves the deadline back over a later extend",
        tests("races", "test_an_extend_that_loses_to_a_later_extend_never_moves_the_deadline_back"),
    ),
    Mutant(
        "extend.gives-up-after-a-lost-write",
        SHUTDOWN,
        "            except ConflictError:\n"
        "                continue\n"
        "            self.schedules.teardown_at(current.endpoint_name, new_expiry)",
        "            except ConflictError:\n"
        "                return ExtendResult(current, capped=False)\n"
        "            self.schedules.teardown_at(current.endpoint_name, new_expiry)",
        "an extend that loses its write to a prediction answers without extending",
        tests("races", "test_an_extend_that_loses_its_write_to_a_prediction_still_extends"),
    ),
    # ----- the budget's end: teardown and reconciler -----
    Mutant(
        "teardown.no-budget-slack",
        BUDGET,
        "BUDGET_SLACK = timedelta(seconds=120)",
        "BUDGET_SLACK = timedelta(seconds=0)",
        "the budget's stop is scheduled at the budget's end: Scheduler runs it up to 119 s late, over the budget",
        EARLY_BUDGET_STOP,
    ),
    Mutant(
        "teardown.budget-slack-exclusive",
        BUDGET,
        "stop is not None and stop <= now",
        "stop is not None and stop < now",
        "a budget stop run at the very moment asked for leaves the start billing",
        EARLY_BUDGET_STOP,
    ),
    Mutant(
        "reconciler.budget-check-removed",
        RECONCILER,
        "        if self.shutdown.past_budget(item):\n",
        "        if False:\n",
        "a start past the day's budget whose stop schedule was lost bills until the starting timeout",
        tests(
            "budget_edges",
            "test_the_reconciler_fails_a_start_the_budget_ran_out_on_when_its_stop_was_never_scheduled",
        ),
    ),
    Mutant(
        "reconciler.failed-item-owns-its-endpoint",
        DOMAIN,
        "LIVE_STATES = (State.STARTING, State.IN_SERVICE, State.STOPPING)",
        "LIVE_STATES = (State.STARTING, State.IN_SERVICE, State.STOPPING, State.FAILED)",
        "a FAILED item's leftover is taken for a live endpoint (reported as an interrupted stop; /stop misreports)",
        FAILED_LEFTOVER + FAILED_AND_GONE,
    ),
    Mutant(
        "reconciler.owned-whatever-the-state",
        RECONCILER,
        "owned = item.endpoint_name if item.state in LIVE_STATES else None",
        "owned = item.endpoint_name",
        "the reconciler takes a FAILED item's leftover for the item's own endpoint",
        FAILED_LEFTOVER + FAILED_AND_GONE,
    ),
    # ----- consent: texts only to numbers whose owners typed the code texted to them -----
    Mutant(
        "consent.start-unchecked",
        BOOTSTRAP,
        "starts.start(consent.confirmed(command.phone, command.confirmation), command.client)",
        "starts.start(command.phone, command.client)",
        "/start puts any number on the list to text, confirmed or not",
        tests("consent"),
    ),
    Mutant(
        "consent.two-codes-a-day",
        CONSENT,
        'acquire(f"code#phone#{phone}", 1, SMS_DAY_SECONDS)',
        'acquire(f"code#phone#{phone}", 2, SMS_DAY_SECONDS)',
        "a number anyone types is texted a code twice a day",
        tests("consent"),
    ),
    Mutant(
        "consent.no-attempt-limit",
        CONSENT,
        'acquire(f"confirm#phone#{phone}", WRONG_CODES_PER_DAY, SMS_DAY_SECONDS)',
        'acquire(f"confirm#phone#{phone}", 10**6, SMS_DAY_SECONDS)',
        "a six-digit code can be guessed: attempts are never limited",
        tests("consent"),
    ),
    Mutant(
        "consent.token-never-expires",
        CONSENT_TOKENS,
        "    if expires <= now.timestamp():\n        return False\n",
        "",
        "a confirmation keeps confirming its number after it expired",
        tests("consent"),
    ),
    # ----- a failed start's endpoint SageMaker would not delete yet: it bills on the ledger until it is gone -----
    Mutant(
        "failure.refused-delete-forgotten",
        STARTS,
        "            self.keep_billing(name, exc)\n",
        '            logger.warning("could not delete %s", name)\n',
        "a failed start's endpoint that would not delete bills off the ledger until the reconciler's sweep",
        FAILED_LEFTOVER + FAILED_STILL_BILLS,
    ),
    Mutant(
        "failure.deleted-run-not-charged",
        STARTS,
        "            derive=lambda current: closing_fields(current, self.now(), cooldown_minutes=0),\n",
        "",
        "deleting a failed start's endpoint late never charges the minutes it billed",
        FAILED_LEFTOVER + FAILED_STILL_BILLS,
    ),
    Mutant(
        "events.failed-starts-endpoint-ignored",
        ENDPOINT_EVENTS,
        "        if item.state == State.FAILED and item.waiting_for == name:\n",
        "        if False:\n",
        "the settling event of a failed start's endpoint does not delete it: it bills until the reconciler",
        FAILED_STILL_BILLS,
    ),
    Mutant(
        "admission.open-run-not-charged",
        BUDGET,
        "    if item.run_started_at is not None:\n        ledger = charge(ledger, item.run_started_at, now)\n",
        "",
        "a start after a failed start whose endpoint still bills drops that endpoint's minutes from the ledger",
        tests("not_deletable", "test_a_start_after_a_failed_start_whose_endpoint_still_bills_charges_it"),
    ),
]
