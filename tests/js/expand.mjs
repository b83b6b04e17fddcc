// Parse an iCalendar feed from stdin with ical.js (Thunderbird's parser) and print, as JSON,
// every VEVENT's identity and the UTC starts of its occurrences between argv[2] and argv[3].
import ICAL from "ical.js";

const input = await new Promise((resolve) => {
  let data = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
});
const from = ICAL.Time.fromJSDate(new Date(process.argv[2]), true);
const to = ICAL.Time.fromJSDate(new Date(process.argv[3]), true);

const calendar = new ICAL.Component(ICAL.parse(input));
for (const zone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(zone));
}
const vevents = calendar.getAllSubcomponents("vevent");
const masters = vevents.filter((v) => !v.hasProperty("recurrence-id"));
const exceptions = vevents.filter((v) => v.hasProperty("recurrence-id"));
const result = { name: calendar.getFirstPropertyValue("x-wr-calname"), events: [] };
for (const master of masters) {
  const event = new ICAL.Event(master);
  for (const exception of exceptions) {
    if (exception.getFirstPropertyValue("uid") === event.uid) event.relateException(exception);
  }
  const starts = [];
  if (event.isRecurring()) {
    const iterator = event.iterator();
    let next;
    let guard = 0;
    while ((next = iterator.next()) && guard++ < 5000) {
      if (next.compare(to) >= 0) break;
      const details = event.getOccurrenceDetails(next);
      if (details.endDate.compare(from) > 0 && details.startDate.compare(to) < 0) {
        starts.push(details.startDate.toJSDate().toISOString());
      }
    }
  } else if (event.endDate.compare(from) > 0 && event.startDate.compare(to) < 0) {
    starts.push(event.startDate.toJSDate().toISOString());
  }
  result.events.push({
    uid: event.uid,
    summary: event.summary,
    sequence: event.sequence,
    status: master.getFirstPropertyValue("status"),
    tzid: master.getFirstProperty("dtstart").getParameter("tzid") || null,
    starts: starts.sort(),
  });
}
process.stdout.write(JSON.stringify(result));
