import { useEffect, useState } from "preact/hooks";
import { type Analytics as Report, type Metric, Problem, json } from "../api";
import { ErrorBanner, useTitle } from "../components";

const SPANS = [["7d", "7 days"], ["30d", "30 days"], ["90d", "90 days"]] as const;

/** A metric's number as a person reads it (the same rules as `reelforge report`). */
export function shown(value: number | null, unit: Metric["unit"]): string {
  if (value == null) return "–";
  if (unit === "ratio") return `${(value * 100).toFixed(1)}%`;
  if (unit === "s") return `${value.toFixed(3)} s`;
  if (unit === "usd") return `$${value.toFixed(4)}`;
  return `${value.toFixed(2)} / 5`;
}

function goal(metric: Metric): string {
  if (metric.target == null) return "";
  return `${metric.better === "above" ? ">" : "<"} ${shown(metric.target, metric.unit)}`;
}

const VERDICT = { true: ["met", "Met"], false: ["missed", "Missed"], null: ["none", "No data yet"] } as const;

/** The admins' page: the brief's success metrics beside their targets, with bars. */
export function AnalyticsPage() {
  const [since, setSince] = useState<string>("30d");
  const [report, setReport] = useState<Report | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  useTitle("Analytics");

  useEffect(() => {
    setProblem(null);
    json<Report>(`/admin/analytics?since=${since}`)
      .then(setReport)
      .catch((error) => error instanceof Problem && setProblem(error));
  }, [since]);

  const ratios = report?.metrics.filter((m) => m.unit === "ratio") ?? [];
  const stars = Object.entries(report?.rating_distribution ?? {}).map(([n, count]) => ({ label: `${n} ★`, value: count }));
  const plans = Object.entries(report?.cost_by_plan ?? {}).map(([plan, cost]) => ({ label: plan, value: cost }));
  return (
    <div class="analytics">
      <div class="page-head">
        <div>
          <h1>Analytics</h1>
          <p class="muted">The brief's success metrics, from the product event log.</p>
        </div>
        <div class="segmented" role="radiogroup" aria-label="Period">
          {SPANS.map(([value, label]) => (
            <label class={since === value ? "on" : ""}>
              <input type="radio" name="since" value={value} checked={since === value} onChange={() => setSince(value)} />
              {label}
            </label>
          ))}
        </div>
      </div>
      <ErrorBanner problem={problem} />
      {!report ? <p class="muted" aria-busy="true">Loading…</p> : (
        <>
          <section class="card table-scroll">
            <table class="metrics" aria-label="Success metrics">
              <thead><tr><th scope="col">Metric</th><th scope="col">Value</th><th scope="col">Target</th><th scope="col">Status</th></tr></thead>
              <tbody>
                {report.metrics.map((metric) => {
                  const [tone, text] = VERDICT[String(metric.met) as "true" | "false" | "null"];
                  return (
                    <tr key={metric.key} data-metric={metric.key}>
                      <th scope="row">{metric.title}</th>
                      <td>{shown(metric.value, metric.unit)}</td>
                      <td>{goal(metric)}</td>
                      <td>{metric.target != null && <span class={`verdict ${tone}`}>{text}</span>}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </section>
          <div class="charts">
            <Bars title="Rates against their targets" max={1} format={(v) => shown(v, "ratio")}
              bars={ratios.map((m) => ({ label: m.title, value: m.value ?? 0, target: m.target, met: m.met }))} />
            <Bars title="Ratings" max={Math.max(1, ...stars.map((b) => b.value))} format={String} bars={stars} />
            <Bars title="Cost per video by plan" max={Math.max(0.0001, ...plans.map((b) => b.value))} format={(v) => shown(v, "usd")} bars={plans} />
          </div>
          <p class="muted">
            {Object.entries(report.counts).map(([name, n]) => `${name.replace(/_/g, " ")}: ${n}`).join(" · ")}
          </p>
        </>
      )}
    </div>
  );
}

interface Bar {
  label: string;
  value: number;
  target?: number | null;
  met?: boolean | null;
}

const ROW = 28;
const LABEL_W = 190;
const BAR_W = 220;

/** Horizontal bars as inline SVG (no chart library); a target is a tick on its bar. */
function Bars({ title, bars, max, format }: { title: string; bars: Bar[]; max: number; format: (v: number) => string }) {
  const height = Math.max(1, bars.length) * ROW;
  return (
    <figure class="card chart">
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? <p class="muted">Nothing yet.</p> : (
        <svg viewBox={`0 0 ${LABEL_W + BAR_W + 90} ${height}`} role="img" aria-label={title}>
          {bars.map((bar, i) => {
            const y = i * ROW;
            const width = Math.min(1, bar.value / max) * BAR_W;
            const tone = bar.met === true ? "met" : bar.met === false ? "missed" : "none";
            return (
              <g key={bar.label}>
                <text x={0} y={y + 18} class="chart-label">{bar.label}</text>
                <rect x={LABEL_W} y={y + 6} width={BAR_W} height={16} rx={3} class="chart-track" />
                <rect x={LABEL_W} y={y + 6} width={width} height={16} rx={3} class={`chart-bar ${tone}`} />
                {bar.target != null && <line x1={LABEL_W + (bar.target / max) * BAR_W} x2={LABEL_W + (bar.target / max) * BAR_W} y1={y + 2} y2={y + 26} class="chart-target" />}
                <text x={LABEL_W + BAR_W + 8} y={y + 18} class="chart-value">{format(bar.value)}</text>
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}
