/* turngym replay: a single-page viewer over the JSON API (or over data embedded by --export).
 * Plain JS, no build step. Routes live in the URL hash so that every view is a shareable link:
 *   #/episodes?won=false&order_by=outcome_reward   #/episode/<id>   #/group/<id>   #/plots
 */
"use strict";

const EXPORT = window.TURNGYM_EXPORT || null; // {"/api/...": json} when opened from an exported file
const PAGE = 50;
const FILTERS = [
  ["run_id", "Run", "select"], ["env_id", "Env", "select"], ["task_id", "Task", "text"], ["group_id", "Group", "text"],
  ["won", "Outcome", "won"], ["has_parent", "Branches", "branch"], ["min_reward", "Reward ≥", "number"],
  ["max_reward", "Reward ≤", "number"], ["step", "Step", "int"], ["min_step", "Step ≥", "int"], ["max_step", "Step ≤", "int"],
  ["min_invalid_rate", "Invalid ≥", "number"], ["max_invalid_rate", "Invalid ≤", "number"],
];
const ORDERS = ["created_at", "outcome_reward", "num_turns", "step", "invalid_rate", "task_id"];
const COLOUR_MODES = {
  mask: "loss mask", rollout: "rollout logprob", trainer: "trainer logprob", diff: "trainer − rollout", advantage: "advantage",
};
let RUN = null; // /api/runs
let colourMode = localStorage.getItem("turngym.colour") || "advantage";

// ----------------------------------------------------------------------------- helpers
const $ = (sel, root = document) => root.querySelector(sel);
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function fmt(x, d = 3) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return esc(x);
  return Number.isInteger(x) ? String(x) : x.toFixed(d);
}
const short = (id) => (id ? esc(String(id).slice(0, 8)) : "–"); // ids are stored text too: escaped like it
function toast(msg) {
  const t = $("#toast"); t.textContent = msg; t.className = "show";
  clearTimeout(toast.timer); toast.timer = setTimeout(() => (t.className = ""), 4000);
}
// `turngym replay --host` beyond loopback prints a URL with ?token=...; kept for this tab only.
const TOKEN = (() => {
  try {
    const given = new URLSearchParams(location.search).get("token");
    if (given) { sessionStorage.setItem("turngym-token", given); history.replaceState(null, "", location.pathname + location.hash); }
    return given || sessionStorage.getItem("turngym-token") || "";
  } catch (e) { return ""; }
})();
async function api(path, opts = {}) {
  if (EXPORT) {
    if (path in EXPORT) return EXPORT[path];
    throw new Error("This exported page holds only the episode it was made for (and its group); open the run with `turngym replay RUN_DIR` for more.");
  }
  const headers = { "Content-Type": "application/json" };
  if (TOKEN) headers["X-Turngym-Token"] = TOKEN;  // a viewer bound beyond loopback guards its writes
  const res = await fetch(path, { headers, ...opts });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    let detail = body && body.detail !== undefined ? body.detail : res.statusText;
    if (Array.isArray(detail)) detail = detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    const err = new Error(`${res.status}: ${detail}`); err.status = res.status; throw err;
  }
  return body;
}
function parseHash() {
  const h = location.hash.replace(/^#/, "") || "/episodes";
  const [path, query] = h.split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query || "") };
}
function setActiveNav(name) {
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === name));
}
function outcomeBadge(e) {
  let s = e.won ? '<span class="badge won">won</span>' : '<span class="badge lost">failed</span>';
  if (e.parent_id) s += ' <span class="badge branch">branch</span>';
  if (e.error) s += ` <span class="badge err" title="${esc(e.error)}">error</span>`;
  return s;
}

// ----------------------------------------------------------------------------- router
async function route() {
  const { parts, params } = parseHash();
  const view = $("#view");
  try {
    if (!RUN) {
      RUN = await api("/api/runs");
      $("#run-dir").textContent = RUN.run_dir;
      if (EXPORT) $("#api-docs-link").style.display = "none";
    }
    if (parts[0] === "episode" && parts[1]) { setActiveNav(""); await showEpisode(view, decodeURIComponent(parts[1])); }
    else if (parts[0] === "group" && parts[1]) { setActiveNav(""); await showGroup(view, decodeURIComponent(parts[1])); }
    else if (parts[0] === "plots") { setActiveNav("plots"); await showPlots(view); }
    else { setActiveNav("episodes"); await showList(view, params); }
  } catch (err) {
    view.innerHTML = `<div class="card"><h2>Could not load this view</h2><div class="error-box" data-testid="error">${esc(err.message)}</div></div>`;
  }
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  if (EXPORT && !location.hash && EXPORT.__start__) location.hash = EXPORT.__start__;
  route();
});

// ----------------------------------------------------------------------------- episode list
function filterInput([name, label, kind], params) {
  const v = params.get(name) ?? "";
  if (kind === "select") {
    const options = name === "run_id" ? RUN.runs.map((r) => r.run_id) : RUN.env_ids;
    return `<label>${label}<select name="${name}"><option value="">any</option>${options
      .map((o) => `<option ${o === v ? "selected" : ""}>${esc(o)}</option>`).join("")}</select></label>`;
  }
  if (kind === "won") {
    return `<label>${label}<select name="won"><option value="">any</option><option value="true" ${v === "true" ? "selected" : ""}>won</option><option value="false" ${v === "false" ? "selected" : ""}>failed</option></select></label>`;
  }
  if (kind === "branch") {
    return `<label>${label}<select name="has_parent"><option value="">all</option><option value="false" ${v === "false" ? "selected" : ""}>recorded only</option><option value="true" ${v === "true" ? "selected" : ""}>branches only</option></select></label>`;
  }
  const type = kind === "text" ? "text" : "number";
  const step = kind === "int" ? "1" : "any";
  return `<label>${label}<input name="${name}" type="${type}" ${type === "number" ? `step="${step}"` : ""} value="${esc(v)}"></label>`;
}

async function showList(view, params) {
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const order = params.get("order_by") || "created_at";
  const desc = params.get("descending") !== "false";
  const q = new URLSearchParams();
  for (const [name] of FILTERS) if (params.get(name)) q.set(name, params.get(name));
  q.set("order_by", order); q.set("descending", String(desc)); q.set("limit", String(PAGE)); q.set("offset", String(offset));
  const page = EXPORT ? exportedList() : await api(`/api/episodes?${q}`);
  const from = page.total ? offset + 1 : 0, to = offset + page.items.length;
  view.innerHTML = `
    <div class="card">
      <h2>Episodes <span class="muted" data-testid="total">${page.total} matching</span></h2>
      ${EXPORT ? '<p class="muted">Exported page: filters are not available.</p>' : `
      <form class="filters" id="filters">
        ${FILTERS.map((f) => filterInput(f, params)).join("")}
        <label>Sort by<select name="order_by">${ORDERS.map((o) => `<option ${o === order ? "selected" : ""}>${o}</option>`).join("")}</select></label>
        <label>Order<select name="descending"><option value="true" ${desc ? "selected" : ""}>descending</option><option value="false" ${desc ? "" : "selected"}>ascending</option></select></label>
        <button type="submit" id="apply-filters">Apply</button>
        <button type="button" class="secondary" id="reset-filters">Reset</button>
      </form>`}
    </div>
    <div class="pager">
      <button class="secondary" id="prev" ${offset <= 0 ? "disabled" : ""}>◀ Prev</button>
      <span class="muted">${from}–${to} of ${page.total}</span>
      <button class="secondary" id="next" ${to >= page.total ? "disabled" : ""}>Next ▶</button>
    </div>
    <table id="episodes"><thead><tr>
      <th>Episode</th><th>Outcome</th><th>Reward</th><th>Turns</th><th>Invalid</th><th>Step</th><th>Env</th><th>Task</th><th>Group</th><th>Seed</th>
    </tr></thead><tbody>
    ${page.items.map((e) => `<tr data-episode="${esc(e.episode_id)}">
      <td><a class="mono" href="#/episode/${encodeURIComponent(e.episode_id)}">${short(e.episode_id)}</a></td>
      <td>${outcomeBadge(e)}</td><td>${fmt(e.outcome_reward)}</td><td>${e.num_turns}</td><td>${fmt(e.invalid_rate, 2)}</td>
      <td>${fmt(e.step)}</td><td>${esc(e.env_id)}</td><td class="mono">${esc(e.task_id || "–")}</td>
      <td>${e.group_id ? `<a class="mono" href="#/group/${encodeURIComponent(e.group_id)}">${short(e.group_id)}</a>` : "–"}</td><td>${fmt(e.seed)}</td>
    </tr>`).join("") || '<tr><td colspan="10" class="muted">No episode matches these filters.</td></tr>'}
    </tbody></table>`;
  const go = (p) => { location.hash = `#/episodes?${p}`; };
  const form = $("#filters");
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      for (const [k, v] of new FormData(form).entries()) if (v !== "") p.set(k, v);
      go(p);
    });
    $("#reset-filters").addEventListener("click", () => go(""));
  }
  const move = (delta) => { const p = new URLSearchParams(params); p.set("offset", String(Math.max(0, offset + delta))); go(p); };
  $("#prev").addEventListener("click", () => move(-PAGE));
  $("#next").addEventListener("click", () => move(PAGE));
}
function exportedList() {
  const items = Object.entries(EXPORT).filter(([k]) => k.startsWith("/api/episodes/")).map(([, v]) => v.episode)
    .map((e) => ({ ...e, num_turns: e.turns.length, invalid_rate: e.turns.length ? e.turns.filter((t) => !t.action_valid).length / e.turns.length : 0 }));
  return { total: items.length, items };
}

// ----------------------------------------------------------------------------- token colouring
function perToken(value, n) {
  if (value === null || value === undefined) return null;
  return Array.isArray(value) ? value : new Array(n).fill(value);
}
function colourFor(mode, i, turn, scale) {
  const mask = turn.loss_mask ? turn.loss_mask[i] : null;
  const ro = turn.rollout_logprobs ? turn.rollout_logprobs[i] : null;
  const tr = turn.trainer_logprobs ? turn.trainer_logprobs[i] : null;
  if (mode === "mask") return mask === null ? "#eee" : mask ? "#bfdbfe" : "#e5e7eb";
  if (mode === "rollout" || mode === "trainer") {
    const lp = mode === "rollout" ? ro : tr;
    if (lp === null || lp === undefined) return "#eee";
    const p = Math.exp(lp);
    return `hsl(${Math.round(120 * p)}, 75%, 80%)`;
  }
  if (mode === "diff") {
    if (ro === null || tr === null || ro === undefined || tr === undefined) return "#eee";
    const d = Math.max(-1, Math.min(1, (tr - ro) / 0.5));
    return d >= 0 ? `rgba(220, 38, 38, ${0.15 + 0.75 * d})` : `rgba(37, 99, 235, ${0.15 + 0.75 * -d})`;
  }
  const adv = perToken(turn.advantage, (turn.response_token_ids || []).length);
  if (!adv || adv[i] === null || adv[i] === undefined) return "#eee";
  // centred on 0 and scaled to the group (the batch the estimator normalised); float noise such
  // as -0.000 stays uncoloured instead of full red
  if (Math.abs(adv[i]) < 1e-6) return "#ffffff";
  const a = Math.max(-1, Math.min(1, adv[i] / (scale || 1)));
  return a >= 0 ? `rgba(22, 163, 74, ${(0.8 * a).toFixed(3)})` : `rgba(220, 38, 38, ${(0.8 * -a).toFixed(3)})`;
}
function legend(mode) {
  const bars = {
    mask: "linear-gradient(90deg,#e5e7eb 50%,#bfdbfe 50%)", rollout: "linear-gradient(90deg,hsl(0,75%,80%),hsl(60,75%,80%),hsl(120,75%,80%))",
    trainer: "linear-gradient(90deg,hsl(0,75%,80%),hsl(60,75%,80%),hsl(120,75%,80%))",
    diff: "linear-gradient(90deg,rgba(37,99,235,.9),#fff,rgba(220,38,38,.9))", advantage: "linear-gradient(90deg,rgba(220,38,38,.82),#fff,rgba(22,163,74,.82))",
  };
  const ends = { mask: ["0 (env/tool)", "1 (trained)"], rollout: ["p→0", "p→1"], trainer: ["p→0", "p→1"], diff: ["−0.5", "+0.5"], advantage: ["−", "+"] };
  return `<span class="legend">${ends[mode][0]}<span class="bar" style="background:${bars[mode]}"></span>${ends[mode][1]}</span>`;
}
function renderTokens(turn, strings, scale) {
  const ids = turn.response_token_ids;
  if (!ids || !ids.length) return `<pre>${esc(turn.response_text)}</pre>`;
  const adv = perToken(turn.advantage, ids.length);
  return `<div class="tokens" data-testid="tokens">${ids.map((id, i) => {
    const text = strings ? strings[i] : `#${id} `;
    const ro = turn.rollout_logprobs ? turn.rollout_logprobs[i] : null;
    const tr = turn.trainer_logprobs ? turn.trainer_logprobs[i] : null;
    const mask = turn.loss_mask ? turn.loss_mask[i] : null;
    const title = `id ${id} | mask ${mask ?? "–"} | rollout ${fmt(ro)} | trainer ${fmt(tr)} | Δ ${ro !== null && tr !== null && ro !== undefined && tr !== undefined ? fmt(tr - ro) : "–"} | adv ${adv ? fmt(adv[i]) : "–"}`;
    return `<span class="tok ${mask === 0 ? "masked" : ""}" style="background:${colourFor(colourMode, i, turn, scale)}" title="${esc(title)}">${esc(text.replace(/\n/g, "⏎"))}</span>`;
  }).join("")}</div>`;
}
function advScale(ep) {
  let m = 0;
  for (const t of ep.turns) for (const a of perToken(t.advantage, 1) || []) if (typeof a === "number") m = Math.max(m, Math.abs(a));
  return m || 1;
}
function promptText(p) {
  if (p === null || p === undefined) return null;
  if (typeof p === "string") return p;
  if (Array.isArray(p) && p.length && typeof p[0] === "object") return p.map((m) => `[${m.role}] ${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}`).join("\n\n");
  return JSON.stringify(p);
}
function meanOf(x) {
  if (x === null || x === undefined) return null;
  if (!Array.isArray(x)) return x;
  return x.length ? x.reduce((a, b) => a + b, 0) / x.length : null;
}

// ----------------------------------------------------------------------------- episode view
async function showEpisode(view, id) {
  const data = await api(`/api/episodes/${encodeURIComponent(id)}`);
  const ep = data.episode, scale = data.advantage_scale || advScale(ep);
  const nTurns = ep.turns.length;
  const maxBranch = data.open ? nTurns : nTurns - 1;
  const defaultTurn = Math.min(2, Math.max(0, maxBranch));
  view.innerHTML = `
    <div class="card">
      <h2>Episode <span class="mono" data-testid="episode-id">${esc(ep.episode_id)}</span> ${outcomeBadge(ep)}</h2>
      <dl class="kv">
        <dt>Env / task</dt><dd>${esc(ep.env_id)} · <span class="mono">${esc(ep.task_id || "–")}</span> · seed ${fmt(ep.seed)}</dd>
        <dt>Reward</dt><dd>${fmt(ep.outcome_reward)} over ${nTurns} turns${ep.score !== null ? ` · score ${fmt(ep.score)}` : ""}${ep.truncated ? " · truncated" : ""}${ep.error ? ` · <span class="result-bad">${esc(ep.error)}</span>` : ""}</dd>
        <dt>Run / step</dt><dd>${esc(ep.run_id)} · step ${fmt(ep.step)}${ep.tag ? ` · <span class="badge">${esc(ep.tag)}</span>` : ""}</dd>
        <dt>Policy</dt><dd data-testid="episode-policy">${data.policy ? `${esc(data.policy)}${data.policy_kept ? "" : " <span class=\"muted\">(not kept in the run directory)</span>"}` : "–"}</dd>
        <dt>Group</dt><dd>${ep.group_id ? `<a id="group-link" href="#/group/${encodeURIComponent(ep.group_id)}">view the group side by side (${short(ep.group_id)})</a>` : "–"}</dd>
        ${data.parent ? `<dt>Branched from</dt><dd><a href="#/episode/${encodeURIComponent(data.parent.episode_id)}">${short(data.parent.episode_id)}</a> at turn ${ep.branch_turn}</dd>` : ""}
        ${data.branches.length ? `<dt>Branches</dt><dd>${data.branches.map((b) => `<a class="mono" href="#/episode/${encodeURIComponent(b.episode_id)}">${short(b.episode_id)}</a>`).join(", ")}</dd>` : ""}
        <dt>Tokens</dt><dd>${data.tokenizer ? `decoded with ${esc(data.tokenizer)}` : "no tokenizer in the run: token ids shown"}</dd>
      </dl>
    </div>
    ${EXPORT ? "" : `<div class="card">
      <div class="row">
        <button id="replay-btn">Replay (determinism check)</button>
        <span id="replay-result" data-testid="replay-result"></span>
      </div>
      <div id="replay-details"></div>
      <form class="row" id="branch-form" style="margin-top:8px">
        <strong>Branch</strong>
        <label>at turn <input type="number" id="branch-turn" value="${defaultTurn}" title="valid: 0..${maxBranch}"> <span class="muted">(0–${maxBranch})</span></label>
        <label>with action <input type="text" id="branch-action" list="branch-actions" placeholder="type an action" size="24"></label>
        <datalist id="branch-actions"></datalist>
        <button type="submit" id="branch-btn">Branch with this action</button>
        ${RUN.checkpoints.length ? `<span>or sample from <select id="branch-policy">${RUN.checkpoints.map((c) => `<option>${esc(c)}</option>`).join("")}</select>
          <button type="button" class="secondary" id="branch-policy-btn">Branch with policy</button></span>` : ""}
      </form>
      <div id="branch-result" data-testid="branch-result"></div>
    </div>`}
    <div class="row" style="margin: 6px 0 10px">
      <label>Colour tokens by <select id="colour-mode">${Object.entries(COLOUR_MODES).map(([k, v]) => `<option value="${k}" ${k === colourMode ? "selected" : ""}>${v}</option>`).join("")}</select></label>
      <span id="legend">${legend(colourMode)}</span>
    </div>
    <div id="turns">${ep.turns.map((t, k) => renderTurn(t, data.tokens[k], scale)).join("")}</div>
    ${typeof ep.final_observation === "string" ? `<div class="card"><h3>Final observation</h3><pre>${esc(ep.final_observation)}</pre></div>` : ""}`;
  $("#colour-mode").addEventListener("change", (ev) => {
    colourMode = ev.target.value; localStorage.setItem("turngym.colour", colourMode);
    $("#legend").innerHTML = legend(colourMode);
    $("#turns").innerHTML = ep.turns.map((t, k) => renderTurn(t, data.tokens[k], scale)).join("");
  });
  if (EXPORT) return;
  const fillActions = () => {
    const k = parseInt($("#branch-turn").value, 10);
    const t = ep.turns[k];
    const acts = (t && t.meta && t.meta.admissible_actions) || [];
    $("#branch-actions").innerHTML = acts.map((a) => `<option value="${esc(a)}">`).join("");
  };
  $("#branch-turn").addEventListener("input", fillActions); fillActions();
  $("#replay-btn").addEventListener("click", async () => {
    const out = $("#replay-result"); out.textContent = "replaying…"; $("#replay-details").innerHTML = "";
    try {
      const r = await api(`/api/episodes/${encodeURIComponent(ep.episode_id)}/replay`, { method: "POST" });
      out.className = r.match ? "result-ok" : "result-bad";
      out.textContent = r.match ? `match: all ${r.checked_turns} turns replay identically (${fmt(r.duration_s)} s)`
        : `mismatch: ${r.steps.filter((s) => !s.matches).length} of ${r.checked_turns} turns differ${r.error ? " — " + r.error : ""}`;
      const bad = r.steps.filter((s) => !s.matches);
      $("#replay-details").innerHTML = bad.map((s) => `<div class="card"><strong>turn ${s.turn}</strong> (${esc(s.action)})<ul>${s.mismatches.map((m) => `<li>${esc(m)}</li>`).join("")}</ul>
        ${s.recorded_observation !== null ? `<div class="diff"><div><h3>recorded</h3><pre>${esc(s.recorded_observation)}</pre></div><div><h3>replayed</h3><pre>${esc(s.replayed_observation)}</pre></div></div>` : ""}</div>`).join("");
    } catch (err) { out.className = "result-bad"; out.textContent = err.message; }
  });
  const doBranch = async (body) => {
    const out = $("#branch-result"); out.innerHTML = "branching…";
    try {
      const r = await api(`/api/episodes/${encodeURIComponent(ep.episode_id)}/branch`, { method: "POST", body: JSON.stringify(body) });
      out.innerHTML = `<p class="result-ok">New episode <a class="mono" id="new-branch-link" href="#/episode/${encodeURIComponent(r.episode_id)}">${esc(r.episode_id)}</a>
        (${r.num_turns} turns, ${r.done ? "finished" : "open: branch it at turn " + r.num_turns + " to continue"}, reward ${fmt(r.summary.outcome_reward)}).
        <a href="#/episodes?has_parent=true">See it in the list</a></p>${r.final_observation !== null ? `<pre>${esc(r.final_observation)}</pre>` : ""}`;
      toast("Branch stored as a new episode");
    } catch (err) { out.innerHTML = `<p class="result-bad" data-testid="branch-error">${esc(err.message)}</p>`; }
  };
  $("#branch-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    doBranch({ turn: parseInt($("#branch-turn").value, 10), action: $("#branch-action").value });
  });
  const pb = $("#branch-policy-btn");
  if (pb) pb.addEventListener("click", () => doBranch({ turn: parseInt($("#branch-turn").value, 10), policy: $("#branch-policy").value }));
}

// info keys that carry tool / sandbox outcomes; shown in full next to the response
const RESULT_KEYS = ["tool_results", "sandbox", "exec_result", "execution", "stdout", "stderr", "error"];
function renderTurn(t, strings, scale) {
  const prompt = promptText(t.prompt);
  const adv = meanOf(t.advantage);
  const info = { ...t.info }; delete info.admissible_actions;
  return `<div class="card turn ${t.action_valid ? "" : "invalid-turn"}" data-turn="${t.index}">
    <div class="turn-head">
      <strong>Turn ${t.index}</strong>${t.agent ? ` <span class="muted">${esc(t.agent)}</span>` : ""}
      <span class="action">${esc(t.action)}</span>
      ${t.action_valid ? "" : '<span class="badge invalid">invalid</span>'}
      <span>reward <b>${fmt(t.reward)}</b></span>
      <span>advantage <b>${fmt(adv)}</b>${Array.isArray(t.advantage) ? ' <span class="muted">(per-token mean)</span>' : ""}</span>
      ${t.step_reward !== null ? `<span class="muted">step reward ${fmt(t.step_reward)}</span>` : ""}
      ${t.clip_scale !== null ? `<span class="muted">clip scale ${fmt(t.clip_scale)}</span>` : ""}
      ${t.entropy !== null ? `<span class="muted">entropy ${fmt(t.entropy)}</span>` : ""}
      ${t.terminated ? '<span class="badge won">terminated</span>' : ""}${t.truncated ? '<span class="badge lost">truncated</span>' : ""}
    </div>
    <h3>Observation</h3><pre>${esc(t.observation)}</pre>
    ${prompt !== null ? `<details><summary>Prompt the policy saw</summary><pre>${esc(prompt)}</pre></details>` : ""}
    <h3>Response</h3>${renderTokens(t, strings, scale)}
    ${t.tool_calls && t.tool_calls.length ? `<h3>Tool calls</h3><pre>${esc(JSON.stringify(t.tool_calls, null, 1))}</pre>` : ""}
    ${RESULT_KEYS.filter((k) => info[k] !== undefined && info[k] !== null).map((k) => `<h3>${esc(k.replace(/_/g, " "))}</h3><pre>${esc(typeof info[k] === "string" ? info[k] : JSON.stringify(info[k], null, 1))}</pre>`).join("")}
    <details><summary>Step info</summary><pre>${esc(JSON.stringify(info, null, 1))}</pre></details>
  </div>`;
}

// ----------------------------------------------------------------------------- group view
const ANCHOR_COLOURS = ["#fde68a", "#a7f3d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa", "#99f6e4", "#fecaca", "#d9f99d", "#e9d5ff"];
async function showGroup(view, gid) {
  const g = await api(`/api/groups/${encodeURIComponent(gid)}`);
  const eps = g.episodes;
  const anchorOf = {}; // "episode:turn" -> anchor group
  for (const ag of g.anchor_groups) for (const m of ag.members) anchorOf[`${m.episode_id}:${m.turn}`] = { ag, m };
  const maxTurns = Math.max(0, ...eps.map((e) => e.turns.length));
  const cols = `70px repeat(${eps.length}, minmax(190px, 1fr))`;
  let grid = `<div class="cell head rowlabel"></div>` + eps.map((e) => `<div class="cell head" data-testid="group-column">
      <a class="mono" href="#/episode/${encodeURIComponent(e.episode_id)}">${short(e.episode_id)}</a> ${outcomeBadge(e)}<br>
      <span class="muted">reward ${fmt(e.outcome_reward)} · ${e.turns.length} turns</span></div>`).join("");
  for (let k = 0; k < maxTurns; k++) {
    grid += `<div class="rowlabel">turn ${k}</div>`;
    for (const e of eps) {
      const t = e.turns[k];
      if (!t) { grid += '<div class="cell empty"></div>'; continue; }
      const a = anchorOf[`${e.episode_id}:${t.index}`];
      const chip = a ? `<span class="anchor-chip" style="background:${ANCHOR_COLOURS[a.ag.id % ANCHOR_COLOURS.length]}" title="${esc(a.ag.anchor)}">A${a.ag.id} R=${fmt(a.m.step_return, 2)}</span>` : "";
      grid += `<div class="cell"><span class="mono">${esc(t.action)}</span>${t.action_valid ? "" : ' <span class="badge invalid">invalid</span>'}${chip}<br>
        <span class="muted">r ${fmt(t.reward, 2)} · adv ${fmt(meanOf(t.advantage), 2)}</span></div>`;
    }
  }
  view.innerHTML = `
    <div class="card"><h2>Group <span class="mono">${esc(g.group_id)}</span> <span class="muted">${eps.length} rollouts of ${esc(eps[0] ? eps[0].task_id || "" : "")}</span></h2>
      <p class="muted">Aligned by turn. Chips mark GiGPO anchor groups (identical state text within the group) with each turn's discounted step return R (γ = ${fmt(g.gamma, 3)}, from ${esc(g.gamma_source)}).</p>
      ${g.branches.length ? `<p>Branches of these rollouts: ${g.branches.map((b) => `<a class="mono" href="#/episode/${encodeURIComponent(b.episode_id)}">${short(b.episode_id)}</a>`).join(", ")}</p>` : ""}
    </div>
    <div class="group-grid" id="group-grid" style="grid-template-columns:${cols}">${grid}</div>
    <div class="card" style="margin-top:10px"><h3>Anchor groups (${g.anchor_groups.length})</h3>
      <table id="anchor-groups"><thead><tr><th>Group</th><th>State (anchor)</th><th>Turns compared</th><th>Mean R</th></tr></thead><tbody>
      ${g.anchor_groups.map((ag) => `<tr><td><span class="anchor-chip" style="background:${ANCHOR_COLOURS[ag.id % ANCHOR_COLOURS.length]}">A${ag.id}</span></td>
        <td><small>${esc(ag.anchor)}</small></td>
        <td>${ag.members.map((m) => `<span class="mono" title="${esc(m.action)}">${short(m.episode_id)}:t${m.turn} R=${fmt(m.step_return, 2)}</span>`).join(", ")}</td>
        <td>${fmt(ag.mean_return)}</td></tr>`).join("") || '<tr><td colspan="4" class="muted">No state repeats in this group: GiGPO reduces to GRPO here.</td></tr>'}
      </tbody></table></div>`;
}

// ----------------------------------------------------------------------------- plots
// Headline panels first (each a list of keys drawn together: trainer names, then the bare names of
// older or synthetic runs); everything else is grouped by its prefix ("update/", "time/", ...).
const HEADLINES = [
  ["success (train / eval)", ["train/success", "eval/success", "success"]],
  ["reward (train / eval)", ["train/reward_mean", "eval/reward_mean", "reward_mean"]],
  ["invalid rate (train / eval)", ["train/invalid_rate", "eval/invalid_rate", "invalid_rate"]],
  ["KL", ["update/approx_kl", "update/kl", "kl"]],
  ["entropy", ["update/entropy", "entropy"]],
  ["step time (s)", ["time/step_s", "step_s"]],
];
const LINE_COLOURS = ["#2563eb", "#ea580c", "#16a34a"];
// Axis numbers: 3 significant digits, k/M for large ones, and 0 for what is zero up to rounding
// (so 14948 reads "14.95k", not a clipped "947.500", and float noise below 1e-7 reads "0", not "-0.000").
function num(v, range = Math.abs(v)) {
  if (typeof v !== "number" || !Number.isFinite(v)) return fmt(v);
  if (Math.abs(v) < 1e-7 || Math.abs(v) < 1e-6 * range) return "0";
  const a = Math.abs(v);
  // enough digits that the two ends of an axis differ (14948 vs 14906: "14.95k", "14.91k")
  const p = Math.max(3, Math.min(7, Math.floor(Math.log10(a / (range || a))) + 2));
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(p)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(p)}k`;
  return String(+v.toPrecision(p));
}
function numericPoints(xs, ys) { return xs.map((x, i) => [x, ys[i]]).filter(([, y]) => typeof y === "number" && Number.isFinite(y)); }
function linePlot(name, xs, series) {
  const W = 340, H = 180, L = 52, R = 8, T = 18, B = 22;
  const lines = series.map(([key, ys]) => [key, numericPoints(xs, ys)]).filter(([, pts]) => pts.length);
  if (!lines.length) return "";
  const all = lines.flatMap(([, pts]) => pts);
  if (all.length === 1 || lines.every(([, pts]) => pts.length === 1)) {  // nothing to draw: say the numbers
    return `<div class="card plot stat" data-metric="${esc(name)}"><h3>${esc(name)}</h3>${lines.map(([key, pts]) =>
      `<div class="stat-value" title="${esc(key)} at step ${pts[0][0]}"><span class="muted">${esc(key)}</span> ${num(pts[0][1])}</div>`).join("")}</div>`;
  }
  const xmin = Math.min(...all.map((p) => p[0])), xmax = Math.max(...all.map((p) => p[0]));
  let ymin = Math.min(...all.map((p) => p[1])), ymax = Math.max(...all.map((p) => p[1]));
  if (ymin === ymax) { const pad = Math.abs(ymin) * 0.05 || 0.05; ymin -= pad; ymax += pad; }
  const range = ymax - ymin;
  const sx = (x) => L + ((x - xmin) / (xmax - xmin || 1)) * (W - L - R);
  const sy = (y) => T + (1 - (y - ymin) / range) * (H - T - B);
  const paths = lines.map(([key, pts], j) => {
    const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join("");
    const c = LINE_COLOURS[j % LINE_COLOURS.length];
    return `<path class="line" data-key="${esc(key)}" style="stroke:${c}" d="${d}"/>` +
      pts.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2" fill="${c}"><title>${esc(key)} step ${x}: ${y}</title></circle>`).join("");
  }).join("");
  const keys = lines.length > 1 ? `<div class="plot-keys">${lines.map(([key], j) => `<span style="color:${LINE_COLOURS[j % 3]}">● ${esc(key)}</span>`).join(" ")}</div>` : "";
  return `<div class="card plot" data-metric="${esc(name)}"><h3>${esc(name)}</h3>${keys}
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">
      <line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>
      <text class="ytick" x="${L - 4}" y="${T + 4}" text-anchor="end">${num(ymax, range)}</text><text class="ytick" x="${L - 4}" y="${H - B}" text-anchor="end">${num(ymin, range)}</text>
      <text x="${L}" y="${H - 6}">${fmt(xmin)}</text><text x="${W - R}" y="${H - 6}" text-anchor="end">step ${fmt(xmax)}</text>
      ${paths}
    </svg></div>`;
}
async function showPlots(view) {
  const m = await api("/api/metrics");
  if (!m.rows.length) {
    view.innerHTML = `<div class="card"><h2>Run plots</h2><p class="muted">No metrics.jsonl in this run directory (the trainer writes one row per training step).</p></div>`;
    return;
  }
  const xs = m.rows.map((r, i) => (typeof r.step === "number" ? r.step : i));
  const col = (k) => m.rows.map((r) => r[k]);
  const used = new Set(["step"]);
  const headline = HEADLINES.map(([title, keys]) => {
    const present = keys.filter((k) => m.keys.includes(k) && !used.has(k));
    present.forEach((k) => used.add(k));
    return present.length ? linePlot(title, xs, present.map((k) => [k, col(k)])) : "";
  }).join("");
  const groups = new Map();
  for (const k of m.keys) {
    if (used.has(k)) continue;
    const prefix = k.includes("/") ? k.slice(0, k.indexOf("/")) : "other";
    if (!groups.has(prefix)) groups.set(prefix, []);
    groups.get(prefix).push(k);
  }
  const rest = [...groups.entries()].map(([prefix, keys]) => `<h3 class="plot-group" data-group="${esc(prefix)}">${esc(prefix)}</h3>
    <div class="plots">${keys.map((k) => linePlot(k, xs, [[k, col(k)]])).join("")}</div>`).join("");
  view.innerHTML = `<div class="card"><h2>Run plots <span class="muted">${m.rows.length} training steps from metrics.jsonl</span></h2>
    ${m.problems.length ? `<p class="result-bad">${m.problems.map(esc).join("<br>")}</p>` : ""}</div>
    <div class="plots" id="plots">${headline}</div>${rest}`;
}
