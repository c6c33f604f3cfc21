# Heartline messages, English. Every id here must also be in zh-CN.ftl (the i18n tests check).
# Timeline sentences keep the wording the hub used before timelines were structured.

## Ticket states, severities, SLA, escalation levels, actors
state-open = open
state-dispatched = dispatched
state-accepted = accepted
state-on-site = on site
state-resolved = resolved, awaiting verification
state-closed = closed
state-auto-recovered = auto-recovered
state-reopened = reopened
state-cancelled = cancelled
severity-info = info
severity-minor = minor
severity-major = major
severity-critical = critical
sla-on-track = on track
sla-at-risk = at risk
sla-breached = breached
sla-met = met
level-engineer = engineer
level-grid-manager = grid manager
level-district-manager = district manager
level-service-leader = service leader
actor-system = system
actor-device = device
actor-engineer = engineer
actor-customer = customer
actor-operator = operator
nobody-configured = (none configured)

## Faults (a ticket's title is "device: fault")
fault-silent = no report since its declared check-in
fault-offline = connection lost
fault-threshold = threshold { $rule }
fault-threshold-on = threshold { $rule } on { $instance }
fault-check = check { $name } failing
event-reboot = reboot
event-watchdog-reset = watchdog reset
event-power-loss = power loss
event-brownout = brownout
event-crash = crash
event-link-down = link down
event-link-up = link up
event-other = other event
fault-event = device event { $kind }
fault-trend = trend { $rule }
fault-trend-on = trend { $rule } on { $instance }
fault-reported = reported by the customer
ticket-title = { $device }: { $fault }
ticket-title-preventive = [preventive] { $device }: { $fault }
ticket-title-uplink = { $device }: uplink down, { $count } device(s) behind it unreachable
detail-silent = no report for { $for } s (declared check-in { $checkin } s)
detail-reported = reported by { $user }
area-grid = grid { $id }
area-region = region { $id }

## Timeline entries
tl-change = { $from } → { $to }
tl-change-why = { $from } → { $to }: { $why }
tl-opened = opened: { $detail }
tl-opened-predicted = opened: { $detail } (predicted to fail at { $at })
tl-fault-back = the fault is back: { $detail }
tl-customer-report = customer reports: { $text }
tl-chosen = chosen: { $engineer } — covers { $area }, skill { $skill }, { $open } open { $open ->
        [one] ticket
       *[other] tickets
    }
tl-chosen-near = chosen: { $engineer } — covers { $area }, skill { $skill }, { $open } open { $open ->
        [one] ticket
       *[other] tickets
    }, { $km } km away
tl-nobody-eligible = unassigned: no on-duty engineer covers grid { $grid } / region { $region } with skill { $skill }
tl-all-passed = unassigned: every eligible engineer declined or let the offer lapse ({ $engineers })
tl-dispatched = dispatched to { $engineer }
tl-declined = declined by { $by }: { $reason }
tl-handed-over = handed over by { $from } to { $to }
tl-offer-lapsed = offer to { $engineer } lapsed: not accepted within { $min } min (respond-by missed)
tl-escalated = escalated to { $level } { $to }: { $why }
esc-repair-time-used = 80 % of the repair time used
esc-breached = repair-by breached
esc-breached-further = repair-by breached by half the repair time again
esc-nobody-eligible = nobody eligible
tl-flapping = flapping: { $changes } changes within { $min } min
tl-verification-failed = verification failed: { $fault } again
tl-verifying = verifying: the device must stay healthy for { $duration }
tl-verified = verified: the device stayed healthy
tl-recovered-before-dispatch = the device recovered before anyone was sent
tl-recovered-before-accept = the device recovered before the engineer accepted
tl-already-recovered = the device had already recovered
tl-merged = merged into #{ $into }: uplink { $uplink } is down
tl-merged-unnamed = merged into #{ $into }: the uplink is down
tl-false-alarm = false alarm: { $uplink } did not answer a probe but reported after all; { $behind } device(s) behind it are down on their own
tl-device-healthy = device reports healthy again
tl-note = note: { $text }
tl-rated = rated { $stars }/5
tl-rated-comment = rated { $stars }/5: { $comment }
dur-d = { $n }d
dur-h = { $n }h
dur-m = { $n }m
dur-s = { $n }s

## Notifications
notice-dispatched = Ticket #{ $ticket } is offered to you: { $title }
notice-withdrawn = Ticket #{ $ticket } no longer needs you: { $what }
notice-escalated = Ticket #{ $ticket } ({ $title }): { $what }
notice-unassigned = Ticket #{ $ticket } ({ $title }) has no engineer: { $what }

## API errors
err-login = wrong user name or password
err-login-locked = too many failed logins for this user; wait a minute and try again
err-refused = cannot { $action } ticket { $ticket }: it is { $state }; { $hint }
action-dispatch = dispatch
action-decline = decline
action-accept = accept
action-on-site = on site
action-note = note
action-resolve = resolve
action-cancel = cancel
action-hand-over = hand over
action-rate = rate
refusal-only-customer-rates = only the customer rates a ticket
refusal-stars = a rating is 1 to 5 stars
refusal-rate-when-closed = a ticket can be rated once it is closed
refusal-finished = the ticket is finished
refusal-already-worked = an engineer is already working on it; hand it over instead
refusal-only-dispatched-declined = only a dispatched ticket can be declined
refusal-only-dispatched-accepted = only a dispatched ticket can be accepted
refusal-accept-first = accept the ticket first
refusal-awaiting-verification = it is already awaiting the device's verification
refusal-already-theirs = it is already theirs
refusal-only-worked-handed-over = only a ticket someone is working on can be handed over
err-empty-text = please say what is wrong
err-position = a position needs lat in -90..90, lon in -180..180 and an accuracy of 0 to 100,000 m
err-no-page = this page not found
err-no-map = the site map not found
err-no-ticket = ticket { $id } not found
err-not-in-queue = ticket { $id } in your queue not found
err-no-device = device { $id } not found
err-no-device-in-project = device { $id } in project { $project } not found
err-no-project = project { $id } not found
err-no-route = no page or API route at { $path }: check the address (the API is under /api/v1/)
err-store-unavailable = the hub cannot read its store right now; try again
err-not-stored = the change could not be stored ({ $detail }); try again
err-stopping = the hub is shutting down
err-timeout = the hub did not apply the action within { $wait }; it may be overloaded, try again
err-empty-comment = the comment is empty
err-rate-customer-only = only the customer rates a ticket
err-decline-why = say why you decline in `text`
err-kpi-period = period is day, week or month
err-no-bearer = no bearer token: send the header `Authorization: Bearer <token>`
err-token-invalid = the token is not valid: check it, or ask the operator for a new one
err-log-in-first = log in first (POST /login)
err-login-body = { $detail }; send user and password as a form or as JSON: {"{"}"user": "…", "password": "…"{"}"}
err-request = { $detail }

## Customer mail (plain text; { $link } is the ticket's page)
mail-subject = Heartline ticket #{ $ticket }: { $step }
mail-step-detected = fault detected
mail-step-on-site = engineer on site
mail-step-resolved = repaired, being confirmed
mail-step-confirmed = repair confirmed
mail-detected = We detected a fault before you had to report it: { $title }.
    Engineer { $engineer } is on the way; repair by { $repair_by } ({ $zone }).
    Follow the repair: { $link }
mail-detected-unassigned = We detected a fault before you had to report it: { $title }.
    We are finding an engineer; repair by { $repair_by } ({ $zone }).
    Follow the repair: { $link }
mail-on-site = Engineer { $engineer } is on site for ticket #{ $ticket } ({ $title }).
    Follow the repair: { $link }
mail-resolved = Engineer { $engineer } reports ticket #{ $ticket } repaired ({ $title }). We are confirming it with the device's own reports.
    Follow the repair: { $link }
mail-confirmed = The device's own reports confirm the repair: ticket #{ $ticket } ({ $title }) closed at { $at } ({ $zone }).
    Please rate the service: { $link }

## Customer report classes (shown to staff beside a report)
class-no-network = no network
class-camera-video = camera / video
class-power = power
class-sensor = sensor
class-slow = slow
class-other = other
report-classified = classified: { $class } (by the words: { $words })
report-classified-other = classified: other (no known words)
report-match-chosen = matched: the customer chose device { $device }
report-match-device = matched: the text names device { $device }
report-match-site-ticket = matched: the text names site { $site }, whose only open ticket is #{ $ticket }
report-match-site-device = matched: the text names site { $site }, whose only { $kind } is { $device }
report-match-only-ticket = matched: #{ $ticket } is the project's only open ticket that fits "{ $class }"
err-report-unmatched = Which device is it? The text names no device or site of this project, and no single open ticket fits it: please choose the device.

## Service progress (the tracker)
step-detected = Detected
step-dispatched = Dispatched
step-accepted = Accepted
step-on-site = On site
step-repaired = Repaired
step-confirmed = Confirmed by the device
step-rated = Rated
step-by-system = Heartline
step-escalated = Escalated to { $level } { $to }

## The web page (sent to the browser as a table: only { $name } placeables, no selectors)
page-title = Heartline
page-loading = Loading…
page-live = ● live
page-live-title = live updates
page-logout = Log out
page-language = 中文
page-login = Log in
page-user = User
page-password = Password
page-nav-board = Board
page-nav-projects = Projects
page-nav-my-projects = My projects
page-nav-map = Map
page-map = Site map
page-map-open = { $n } open
page-map-engineer = engineer
page-map-engineer-reported = engineer, shared position
page-map-engineer-at = { $name }, { $at }
page-map-engineer-stale = (stale)
page-map-no-location = Sites without a location
page-site-filter = Site { $site }
page-all-sites = all sites
page-devices-range = devices { $from }–{ $to } of { $total }
page-prev = previous
page-next = next
page-nav-queue = My queue
page-role-operator = operator
page-role-customer = customer
page-role-engineer = engineer
page-all-projects = All projects
page-my-projects = My projects
page-no-projects = No projects.
page-health-ok = ok
page-health-warning = warning
page-health-down = down
page-status-ok = ok
page-status-warning = warning
page-status-down = down
page-status-affected = affected
page-status-maintenance = maintenance
page-status-unknown = unknown
page-open-tickets = Open tickets: { $n } (critical { $critical }, major { $major })
page-sla-at-risk = SLA at risk: { $n }
page-report-problem = Report a problem
page-report-placeholder = What is wrong?
page-report-find-device = (find the device from my text)
page-report = Report
page-report-thanks = Thank you: ticket #{ $ticket } ({ $state }).
page-tickets = Tickets
page-devices = Devices
page-col-title = Title
page-col-severity = Severity
page-col-state = State
page-col-engineer = Engineer
page-col-sla = SLA
page-col-device = Device
page-col-site = Site
page-col-kind = Kind
page-col-status = Status
page-col-last-report = Last report
page-col-cpu = CPU
page-col-repair-by = Repair by
page-no-tickets = No tickets.
page-unassigned = unassigned
page-repair-countdown = repair { $when }
page-in = in { $time }
page-ago = { $time } ago
page-overdue = overdue by { $time }
page-time-hms = { $h }h { $m }m { $s }s
page-time-ms = { $m }m { $s }s
page-rate-title = Rate this repair
page-rate-comment = Comment (optional)
page-rate = Rate
page-rated = Rated { $stars }/5 { $comment }
page-ticket-state = State
page-ticket-severity = severity
page-ticket-engineer = engineer
page-ticket-sla = SLA
page-respond-by = respond by
page-repair-by = repair by
page-device = Device { $device }
page-timeline = Timeline
page-progress = Service progress
page-sla-clock = SLA clock: repair by { $at }
page-sla-left = { $time } left
page-sla-over = { $time } over
page-sla-stopped = clock stopped
page-step-pending = pending
page-escalations = Escalations
page-last-report = last report { $at }
page-no-checks = no checks reported
page-accept = Accept
page-decline = Decline
page-on-site = On site
page-resolved = Resolved
page-ask-resolve = What did you do?
page-ask-decline = Why do you decline?
page-queue = My queue
page-queue-empty = Nothing dispatched to you.
page-share-position = Share my position
page-position-sent = Position shared at { $at } (±{ $accuracy } m).
page-position-failed = Position not shared: { $why }
page-operator-board = Operator board
page-period = Period
page-period-day = day
page-period-week = week
page-period-month = month
page-export-csv = Export CSV
page-kpi-mttd = MTTD
page-kpi-mtta = MTTA
page-kpi-mttr = MTTR
page-kpi-sla = SLA compliance
page-kpi-first = Detected before customer
page-kpi-repeat = Repeat faults
page-kpi-rating = Rating
page-tickets-per = Tickets per { $period }
page-col-tickets = Tickets
page-col-mttd = MTTD s
page-col-mtta = MTTA s
page-col-mttr = MTTR s
page-col-first = Before customer
page-col-repeat = Repeat
page-col-rating = Rating
page-time-zone = Time zone: { $zone }
