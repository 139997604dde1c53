/** The one stylesheet of the report and the dashboard pages, inlined in a <style> element of each. */
export const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222; max-width: 1200px; margin: 1.5em auto; padding: 0 1em; line-height: 1.45; }
header.top { display: flex; gap: 1.5em; align-items: baseline; border-bottom: 1px solid #ddd; margin-bottom: 1em; }
header.top a { color: #333; text-decoration: none; font-weight: 600; }
.where { color: #777; font-size: 0.9em; margin-left: auto; }
h1 { font-size: 1.5em; margin: 0.4em 0; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #eee; padding-bottom: 0.2em; }
dl.overview { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.overview dt { color: #666; }
dl.overview dd { margin: 0; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; }
td.text, th.text { text-align: left; }
tr.chosen td { background: #fff4d6; font-weight: 600; }
.tag { display: inline-block; font-size: 0.78em; font-weight: 600; padding: 0 0.45em; border-radius: 0.6em; background: #e45756; color: white; margin-left: 0.4em; }
.tag-pruned { background: #9d755d; }
.muted { color: #777; font-weight: normal; }
.status { font-weight: 700; padding: 0.05em 0.5em; border-radius: 0.3em; background: #e8e8e8; }
.status-SUCCEEDED, .status-REPRODUCED { background: #dcefd9; color: #1d5e1a; }
.status-PARTIAL, .status-INTERRUPTED, .status-INCOMPLETE { background: #fbe9c6; color: #7a4b00; }
.status-FAILED, .status-DRIFTED { background: #f6d3d3; color: #8a1111; }
.status-RUNNING { background: #d6e6f7; color: #174a7c; }
.status-PRUNED { background: #eadfd6; color: #5e4330; }
h1 .status { font-size: 0.6em; vertical-align: middle; }
.chart { margin: 1em 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
.message { white-space: pre-wrap; font-family: "DejaVu Sans Mono", monospace; font-size: 0.88em; max-width: 40em; text-align: left; }
progress { width: 24em; height: 1.1em; vertical-align: middle; }
.error-page { border: 1px solid #e0b4b4; background: #fff6f6; padding: 1em 1.4em; border-radius: 0.4em; }
figure { margin: 1.2em 0; }
figure img { width: 640px; max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; max-width: 640px; }
.omitted { border-left: 3px solid #e45756; padding-left: 0.8em; }
footer { margin-top: 3em; color: #555; font-size: 0.9em; border-top: 1px solid #ddd; }
`;
