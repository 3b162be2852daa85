-- wrk script: trigger / acknowledge / resolve cycles on the Events API v2 door.
-- usage: wrk -t1 -cN -dDs -s mixed.lua URL -- KEY PREFIX
-- Each thread walks its own dedup keys: request n is step n % 3 (trigger, acknowledge,
-- resolve) of cycle n / 3. Connections run concurrently, so a step may reach Vigil before
-- the one it follows: that acknowledge or resolve is answered 202 "ignored", as it would be.
-- done() prints RESULT {json}, as ../shared/perf/ingest.lua does.
local threads = {}
local ACTIONS = {"trigger", "acknowledge", "resolve"}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  key = args[1]
  prefix = args[2] or tostring(os.time())
  counter = 0
  ok = 0
  bad = 0
  badstatus = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local step = counter % 3
  local id = "mixed-" .. prefix .. "-" .. tid .. "-" .. math.floor(counter / 3)
  counter = counter + 1
  local body = '{"routing_key":"' .. key .. '","event_action":"' .. ACTIONS[step + 1] .. '","dedup_key":"' .. id .. '",' ..
               '"payload":{"summary":"Disk usage > 90% on ' .. id .. '","severity":"critical","source":"bench"}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1; badstatus = status end
end

function done(summary, latency, requests)
  local okt, badt, lastbad = 0, 0, 0
  for _, t in ipairs(threads) do
    okt = okt + t:get("ok"); badt = badt + t:get("bad")
    local s = t:get("badstatus"); if s ~= 0 then lastbad = s end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"requests":%d,"secs":%.2f,"rps":%.1f,"ok_rps":%.1f,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"mean_ms":%.2f,"non2xx":%d,"last_bad_status":%d,"sock_connect":%d,"sock_read":%d,"sock_write":%d,"sock_timeout":%d}\n',
    summary.requests, secs, summary.requests / secs, okt / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    latency.mean / 1000, badt, lastbad, e.connect, e.read, e.write, e.timeout))
end
