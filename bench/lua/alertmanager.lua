-- wrk script: Alertmanager webhook posts of 100 firing alerts each.
-- usage: wrk -t1 -cN -dDs -s alertmanager.lua URL -- KEY MODE PREFIX
--   MODE new: 100 new fingerprints per post (100 incidents); dup: the same 100 every time
--   (100 repeats). The key goes in `Authorization: Bearer`. done() prints RESULT {json}.
local threads = {}
local ALERTS = 100

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  key = args[1]
  mode = args[2] or "new"
  prefix = args[3] or tostring(os.time())
  counter = 0
  ok = 0
  bad = 0
  badstatus = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  counter = counter + 1
  local batch = (mode == "dup") and "dup" or (tid .. "-" .. counter)
  local alerts = {}
  for i = 1, ALERTS do
    local fp = prefix .. "-" .. batch .. "-" .. i
    alerts[i] = '{"status":"firing","labels":{"alertname":"DiskFull","instance":"srv' .. i .. '","severity":"critical"},' ..
      '"annotations":{"summary":"Disk usage > 90% on srv' .. i .. '"},"startsAt":"2026-12-01T10:00:00Z",' ..
      '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph","fingerprint":"' .. fp .. '"}'
  end
  local body = '{"version":"4","groupKey":"{}:{alertname=\\"DiskFull\\"}","truncatedAlerts":0,"status":"firing",' ..
    '"receiver":"vigil","groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull"},' ..
    '"commonAnnotations":{},"externalURL":"http://alertmanager","alerts":[' .. table.concat(alerts, ",") .. ']}'
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
