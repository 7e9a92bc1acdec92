-- wrk script: realistic mixed pixel events with a skewed set of hot visitors.
-- wrk -s bench/ingest.lua URL -- <batch size> <path> <write key> <run id> <visitors>
-- Each request carries `batch` events (1 = a single event object, else {"batch": [...]});
-- event_ids are unique per run/thread/counter, so nothing is a duplicate.
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end

local batch, path, key, run, visitors = 1, "/api/v1/events", "", "run", 20000
local counter = 0
local pool = {}

local kinds = {
  {"PageView", 40}, {"ViewContent", 27}, {"AddToCart", 14}, {"InitiateCheckout", 8},
  {"Identify", 6}, {"Purchase", 5},
}
local products = {
  {"Linen Shirt", "8266836345064", 59.0}, {"Canvas Tote", "8266836345065", 24.5},
  {"Wool Beanie", "8266836345066", 19.0}, {"Leather Belt", "8266836345067", 45.0},
  {"Rain Jacket", "8266836345068", 129.0},
}
local sources = {"google", "facebook", "klaviyo", "instagram", "direct"}

local function pick_kind()
  local roll, acc = math.random(100), 0
  for _, k in ipairs(kinds) do
    acc = acc + k[2]
    if roll <= acc then return k[1] end
  end
  return "PageView"
end

-- Skewed visitors: v = floor(N * u^3): a few hundred hot visitors make most of the traffic.
local function pick_visitor()
  return math.floor(visitors * (math.random() ^ 3))
end

local function event_body(stamp)
  local kind, v = pick_kind(), pick_visitor()
  local p = products[math.random(#products)]
  local qty = math.random(3)
  local ids = '"client_id":"c' .. v .. '"'
  if v % 5 == 0 or kind == "Identify" or kind == "Purchase" then
    ids = ids .. ',"email":"visitor' .. v .. '@acme.io"'
  end
  if v % 7 == 0 then ids = ids .. ',"fbp":"fb.1.1700000000.' .. v .. '"' end
  if v % 11 == 0 then ids = ids .. ',"gclid":"Cj0KCQ' .. v .. '"' end
  local props
  if kind == "PageView" or kind == "Identify" then
    props = '{}'
  elseif kind == "Purchase" then
    props = string.format('{"OrderID":"%d","Revenue":%.2f,"Currency":"USD","Items":[{"ProductName":"%s",'
      .. '"ProductID":"%s","Price":%.2f,"Quantity":%d}]}', 5000000 + v, p[3] * qty, p[1], p[2], p[3], qty)
  else
    props = string.format('{"ProductName":"%s","ProductID":"%s","VariantID":"4%s","Price":%.2f,'
      .. '"Quantity":%d,"Currency":"USD","CartValue":%.2f}', p[1], p[2], p[2], p[3], qty, p[3] * qty)
  end
  local traits = '{}'
  if kind == "Identify" then traits = '{"first_name":"Ada","last_name":"Visitor' .. v .. '","country":"US"}' end
  return string.format('"type":"%s","anonymous_id":"anon-%d","timestamp":"%s","context":{"url":'
    .. '"https://acme.example/products/%s","referrer":"https://www.google.com/","user_agent":"Mozilla/5.0 '
    .. '(Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/126.0 Safari/537.36","utm":{"source":"%s",'
    .. '"medium":"cpc","campaign":"bfcm"}},"identifiers":{%s},"traits":%s,"properties":%s}',
    kind, v, stamp, p[2], sources[v % #sources + 1], ids, traits, props)
end

function init(args)
  batch = tonumber(args[1]) or 1
  path = args[2] or path
  key = args[3] or ""
  run = args[4] or run
  visitors = tonumber(args[5]) or visitors
  math.randomseed(os.time() + tid * 7919)
  local stamp = os.date("!%Y-%m-%dT%H:%M:%SZ")
  for i = 1, 2000 do pool[i] = event_body(stamp) end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain"
  wrk.headers["X-Write-Key"] = key
end

function request()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = '{"event_id":"' .. run .. "-" .. tid .. "-" .. counter .. '",' .. pool[math.random(#pool)]
  end
  local body
  if batch == 1 then body = parts[1] else body = '{"batch":[' .. table.concat(parts, ",") .. "]}" end
  return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,'
    .. '"read":%d,"write":%d,"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,'
    .. '"max":%d,"mean":%.1f}}\n', summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
