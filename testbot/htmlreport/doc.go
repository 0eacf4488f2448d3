// Package htmlreport writes a run's visual report, reports/index.html: one
// self-contained file that opens from a downloaded artifact with no network
// — no external script, style, font or image; screenshots travel inside as
// data: URIs.
//
// The page shows the run's verdict and counts, the facts of the run (image,
// worker, DUT, versions, timings, the command to reproduce it), a timeline
// (stages, flash MB/s over time, power events and reboots, boot marks, one
// bar per top-level test coloured by result, screenshot markers), the tests
// (failures first, filter by result, text search, subtests indented under
// their parent, each with a link to the console lines printed while it ran),
// the serial console (searchable, with an anchor at each test's first line)
// and the screenshots.
//
// Write renders the verdict, the counts, the suites' errors and the facts on
// the server side with html/template, so they read without JavaScript; the
// rest is drawn by a small inline script from the run's data, embedded once
// as JSON in a <script type="application/json" id="report-data"> element
// (encoded with HTML escaping, so no string of the run can close the
// element). The script first draws what a reader sees on opening the page
// — the timeline and the first rows of the tests, under the verdict and
// counts — and sets document.body.dataset.ready to "1" (and
// dataset.drawnMs to the milliseconds that took from the start of
// navigation); after the load event it draws the rest (the other rows, the
// console, the screenshots) in tasks of a few milliseconds, and then sets
// dataset.complete from "0" to "1". Package htmlreport/htmlreporttest times
// the first marker and checks a report in headless Chromium once the second
// is set. A Content-Security-Policy
// in the page allows no load but data: images, so a slip cannot reach the
// network.
//
// The elements a checker can rely on: #verdict, #facts, #timeline (an SVG
// with one rect.bar per test bar — tests under 3 px merge into one bar that
// shows their share of failures —, .power marks and a.screen-mark links),
// #tests tr[data-test] (one row per test and subtest, id "test-<n>" for
// Data.Tests[n], data-test "suite/Name"), #console [data-anchor] (one per
// test with known console lines: id "console-test-<n>", data-test
// "suite/Name", data-line its first line) and #screens img (data-test
// "suite/Name" on a failure's screenshot, figure id "screen-<i>").
//
// Limits: the console is drawn virtually — only the lines near its view
// exist in the DOM, so the browser's own find sees only those; the page's
// search box searches every line. Its anchors are hidden elements: following
// one (#console-test-<n>) scrolls the console to the test's first line and
// marks the lines it printed. The test rows are laid out in chunks only near
// the view (content-visibility: auto); until the page is complete, a chunk
// far from the view is an empty block of its height, and a filter, a search
// or a link to a row draws every chunk at once. A console over 256 KiB of
// JSON travels gzip-compressed and base64-encoded and is inflated, after
// the first view, with DecompressionStream (Chromium 80, Firefox 113,
// Safari 16.4 and later; an older browser shows the rest of the page and
// says to read serial.log). A run of 10 000 tests with 2 000 failures,
// 100 000 console lines and 3 screenshots makes a file of 2.8 MB that Write
// writes in about 0.25 s; headless Chromium shows its first view in about
// 0.3–0.4 s and the whole page in under 1 s on two shared cores, where the
// same run's 1.2 MB junit.xml takes about 3 s (BenchmarkReport10k, make
// bench-html).
package htmlreport
