// The payer's side of the plugin: no framework, no request to any host but
// this server. Everything it shows comes from the GraphQL API (pluginConfig,
// activateDeposit, activationRequestUpdated); the query string is the
// snippet's (plugin_key, label, order_id, lang, wallet_type, success_url,
// fail_url).
"use strict";

// Every sentence the payer can see, per language. Add a language by adding
// a table with the same keys; missing keys fall back to English.
const TEXT = {
  en: {
    title: "Payment",
    choose: "Choose how you paid",
    back: "← Other payment methods",
    sendTo: "Send the money to this wallet, then enter the transaction number the payment system gave you.",
    copy: "Copy",
    copied: "Copied",
    numberLabel: "Transaction number",
    submit: "Confirm payment",
    again: "Enter another number",
    minimum: "Minimum deposit: {amount} {currency}",
    noSystems: "This merchant does not take payments through the plugin yet.",
    badKey: "This payment page is not set up correctly: the merchant's plugin key is unknown. Please contact the shop.",
    badLink: "This payment page is missing part of its address (the plugin key or your user ID). Please open it again from the shop.",
    checking: "Checking your payment…",
    activated: "Payment received",
    activatedDetail: "{amount} {currency} was credited. You can close this window.",
    stockpiling: "Payment received, but it is below the minimum deposit",
    stockpilingDetail: "{accumulated} of {minimum} {currency} received so far: pay {remaining} {currency} more and it will be credited.",
    waiting: "Waiting for the payment system",
    waitingDetail: "We have not seen this payment yet. Keep this window open: it is credited as soon as the payment system reports it.",
    notFound: "Payment not found",
    notFoundDetail: "We could not find a payment with this number. Check the number and try again in a few minutes.",
    already: "Already credited",
    alreadyDetail: "This payment was credited before.",
    rejected: "Payment refused",
    rejectedDetail: "This payment cannot be credited here. Please contact the shop.",
    expired: "We did not see the payment in time",
    expiredDetail: "The payment system did not report this payment. Check the number and try again, or contact the shop.",
    invalid: "Please check the transaction number: {message}",
    busy: "Too many attempts. Please wait a minute and try again.",
    offline: "We could not reach the payment service. Check your connection and try again.",
    failed: "Something went wrong on our side. Please try again in a minute.",
  },
  ru: {
    title: "Оплата",
    choose: "Выберите, как вы оплатили",
    back: "← Другие способы оплаты",
    sendTo: "Переведите деньги на этот кошелёк, затем введите номер транзакции, который выдала платёжная система.",
    copy: "Копировать",
    copied: "Скопировано",
    numberLabel: "Номер транзакции",
    submit: "Подтвердить платёж",
    again: "Ввести другой номер",
    minimum: "Минимальный депозит: {amount} {currency}",
    noSystems: "Этот магазин пока не принимает платежи через плагин.",
    badKey: "Страница оплаты настроена неверно: ключ плагина магазина неизвестен. Свяжитесь с магазином.",
    badLink: "В адресе страницы оплаты не хватает данных (ключа плагина или вашего ID). Откройте её заново из магазина.",
    checking: "Проверяем платёж…",
    activated: "Платёж получен",
    activatedDetail: "Зачислено {amount} {currency}. Окно можно закрыть.",
    stockpiling: "Платёж получен, но он меньше минимального депозита",
    stockpilingDetail: "Получено {accumulated} из {minimum} {currency}: доплатите {remaining} {currency}, и сумма будет зачислена.",
    waiting: "Ждём платёжную систему",
    waitingDetail: "Мы ещё не видим этот платёж. Не закрывайте окно: он будет зачислен, как только платёжная система сообщит о нём.",
    notFound: "Платёж не найден",
    notFoundDetail: "Платёж с таким номером не найден. Проверьте номер и попробуйте снова через несколько минут.",
    already: "Уже зачислено",
    alreadyDetail: "Этот платёж уже был зачислен.",
    rejected: "Платёж отклонён",
    rejectedDetail: "Этот платёж нельзя зачислить здесь. Свяжитесь с магазином.",
    expired: "Платёж не поступил вовремя",
    expiredDetail: "Платёжная система не сообщила об этом платеже. Проверьте номер и попробуйте снова или свяжитесь с магазином.",
    invalid: "Проверьте номер транзакции: {message}",
    busy: "Слишком много попыток. Подождите минуту и попробуйте снова.",
    offline: "Не удалось связаться с платёжным сервисом. Проверьте соединение и попробуйте снова.",
    failed: "Что-то пошло не так на нашей стороне. Попробуйте через минуту.",
  },
};

const params = new URLSearchParams(location.search);
const lang = TEXT[(params.get("lang") || "en").toLowerCase()] ? (params.get("lang") || "en").toLowerCase() : "en";
const t = (key, values) =>
  (TEXT[lang][key] || TEXT.en[key] || key).replace(/\{(\w+)\}/g, (_, k) => (values && k in values ? values[k] : ""));
const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };

const pluginKey = (params.get("plugin_key") || "").trim();
const label = (params.get("label") || "").trim();
const orderId = (params.get("order_id") || "").trim() || null;
// Only http(s) addresses are followed (never javascript: or data:).
const safeUrl = (u) => {
  if (!u) return null;
  try {
    const url = new URL(u, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch (_) {
    return null;
  }
};

// The origin of the merchant's page that frames this one, if any.
const embedder = (() => {
  try {
    if (location.ancestorOrigins && location.ancestorOrigins.length) return location.ancestorOrigins[0];
    return document.referrer ? new URL(document.referrer).origin : null;
  } catch (_) {
    return null;
  }
})();
// A success_url / fail_url from the query is followed only when it is on
// the framing page's own origin: a link to this page with someone else's
// address in it does not send a payer there after paying.
const fromQuery = (name) => {
  const u = safeUrl(params.get(name));
  return u && embedder && new URL(u).origin === embedder ? u : null;
};

let config = null;
let socket = null;

// A GraphQL call; rejects with an Error whose `code` is the API's.
async function gql(query, variables) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
    });
  } catch (_) {
    throw Object.assign(new Error("offline"), { code: "OFFLINE" });
  }
  let body;
  try {
    body = await response.json();
  } catch (_) {
    throw Object.assign(new Error("bad response"), { code: "INTERNAL" });
  }
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw Object.assign(new Error(e.message), { code: (e.extensions && e.extensions.code) || "INTERNAL" });
  }
  return body.data;
}

// The sentence for an error the API answered.
function sentence(e) {
  switch (e.code) {
    case "OFFLINE": return t("offline");
    case "RATE_LIMITED": return t("busy");
    case "NOT_FOUND": return t("badKey");
    default: return t("failed");
  }
}

function notice(text) {
  $("notice").textContent = text;
  show("notice", !!text);
}

function translateStatic() {
  document.documentElement.lang = lang;
  document.title = t("title");
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
}

function applyTheme(c) {
  document.documentElement.dataset.theme = c.theme.toLowerCase();
  if (c.theme === "CUSTOM" && c.customCssUrl) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = c.customCssUrl;
    document.head.appendChild(link);
  }
}

function listSystems() {
  const list = $("system-list");
  list.replaceChildren();
  for (const s of config.paymentSystems) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "system";
    b.dataset.code = s.paymentSystem.code;
    const name = document.createElement("span");
    name.textContent = s.paymentSystem.name;
    const min = document.createElement("small");
    if (s.minimumDeposit) min.textContent = t("minimum", { amount: s.minimumDeposit, currency: s.paymentSystem.currency });
    b.append(name, min);
    b.addEventListener("click", () => choose(s));
    li.append(b);
    list.append(li);
  }
  show("systems", true);
  show("pay", false);
  show("result", false);
}

let chosen = null;
function choose(s) {
  chosen = s;
  $("system-name").textContent = s.paymentSystem.name;
  $("pay-to").textContent = s.payTo || "";
  const img = $("prompt");
  if (s.promptImageUrl) { img.src = s.promptImageUrl; img.hidden = false; } else { img.hidden = true; }
  $("minimum").textContent = s.minimumDeposit ? t("minimum", { amount: s.minimumDeposit, currency: s.paymentSystem.currency }) : "";
  show("minimum", !!s.minimumDeposit);
  show("systems", false);
  show("result", false);
  show("pay", true);
  show("back", config.paymentSystems.length > 1);
  $("number").value = "";
  $("number").focus();
}

// Shows an outcome; `good` true/false/null (neutral), and runs the
// after-payment action once the request is settled.
function result(title, detail, good, settled) {
  $("outcome").textContent = title;
  $("outcome").className = "outcome" + (good === true ? " ok" : good === false ? " bad" : "");
  $("detail").textContent = detail;
  show("pay", false);
  show("result", true);
  show("again", settled && good !== true);
  document.body.dataset.outcome = settled ? (good ? "success" : "failure") : "pending";
  // (a deposit still short of the minimum is neither: the payer stays to pay the rest)
  if (settled && good !== null && config.afterPaymentAction === "REDIRECT") {
    const target = good ? fromQuery("success_url") || safeUrl(config.successUrl) : fromQuery("fail_url") || safeUrl(config.failUrl);
    // The plugin's own frame goes there: the merchant's page (same origin
    // as its success page) decides what the whole window does next.
    if (target) setTimeout(() => location.assign(target), 1500);
  }
}

const money = (s) => ({ accumulated: s.accumulated, minimum: s.minimum, remaining: s.remaining, currency: s.currency });

function showSettled(outcome, amount, currency, stockpiling) {
  switch (outcome) {
    case "ACTIVATED":
      if (stockpiling && !stockpiling.completed) {
        return result(t("stockpiling"), t("stockpilingDetail", money(stockpiling)), null, true);
      }
      return result(t("activated"), t("activatedDetail", { amount: amount || "", currency: currency || "" }), true, true);
    case "ALREADY_ACTIVATED": return result(t("already"), t("alreadyDetail"), false, true);
    case "NOT_FOUND": return result(t("notFound"), t("notFoundDetail"), false, true);
    case "REJECTED": return result(t("rejected"), t("rejectedDetail"), false, true);
    case "EXPIRED": return result(t("expired"), t("expiredDetail"), false, true);
    default: return result(t("failed"), "", false, true);
  }
}

const PROGRESS = "stockpiling { accumulated minimum remaining currency completed }";

// Follows a WAITING request live (graphql-transport-ws, the plugin key as
// credential) until it settles.
let reconnects = 0;
function follow(ticket) {
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/graphql/ws", "graphql-transport-ws");
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: "Bearer " + pluginKey } }));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "connection_ack") {
      reconnects = 0;
      ws.send(JSON.stringify({
        id: "1", type: "subscribe",
        payload: { query: `subscription($t: ID!) { activationRequestUpdated(ticket: $t) { status amount currency ${PROGRESS} } }`, variables: { t: ticket } },
      }));
    } else if (msg.type === "next" && msg.payload.data) {
      const r = msg.payload.data.activationRequestUpdated;
      if (r.status !== "WAITING") {
        ws.close();
        showSettled(r.status, r.amount, r.currency, r.stockpiling);
      }
    } else if (msg.type === "error" || (msg.type === "next" && msg.payload.errors)) {
      ws.close();
      result(t("failed"), "", false, true);
    }
  };
  ws.onclose = (e) => {
    // A server restart (1012) or a lost connection: follow again.
    if (socket === ws && document.body.dataset.outcome === "pending" && e.code !== 1000) {
      if (reconnects++ < 60) setTimeout(() => follow(ticket), 1000 + 250 * Math.min(reconnects, 20));
      else result(t("offline"), "", false, false);
    }
  };
}

async function submit(event) {
  event.preventDefault();
  const number = $("number").value.trim();
  if (!number) return;
  $("submit").disabled = true;
  notice("");
  try {
    const data = await gql(
      `mutation($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome ticket amount currency ${PROGRESS} errors { code message } } }`,
      { i: { pluginKey, paymentSystem: chosen.paymentSystem.code, transactionNumber: number, label, orderId } },
    );
    const p = data.activateDeposit;
    if (p.errors.length) {
      const e = p.errors[0];
      notice(e.code === "ALREADY_ACTIVATED" ? t("alreadyDetail") : t("invalid", { message: e.message }));
      return;
    }
    if (p.outcome === "WAITING" && p.ticket) {
      result(t("waiting"), t("waitingDetail"), null, false);
      follow(p.ticket);
    } else {
      showSettled(p.outcome, p.amount, p.currency, p.stockpiling);
    }
  } catch (e) {
    notice(sentence(e.code === "NOT_FOUND" ? { code: "INTERNAL" } : e));
  } finally {
    $("submit").disabled = false;
  }
}

async function start() {
  translateStatic();
  if (!pluginKey || !label) {
    notice(t("badLink"));
    return;
  }
  try {
    const data = await gql(
      `query($k: String!) { pluginConfig(pluginKey: $k) { merchantName theme customCssUrl afterPaymentAction successUrl failUrl
         paymentSystems { paymentSystem { code name currency } payTo promptImageUrl minimumDeposit } } }`,
      { k: pluginKey },
    );
    config = data.pluginConfig;
  } catch (e) {
    notice(sentence(e));
    return;
  }
  applyTheme(config);
  $("merchant").textContent = config.merchantName;
  if (!config.paymentSystems.length) {
    notice(t("noSystems"));
    return;
  }
  const wanted = (params.get("wallet_type") || "").toLowerCase();
  const direct = config.paymentSystems.find((s) => s.paymentSystem.code === wanted);
  if (direct || config.paymentSystems.length === 1) choose(direct || config.paymentSystems[0]);
  else listSystems();
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", submit);
  $("back").addEventListener("click", listSystems);
  $("again").addEventListener("click", () => (chosen ? choose(chosen) : listSystems()));
  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("pay-to").textContent);
      $("copy").textContent = t("copied");
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents($("pay-to"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
  });
  start();
});
