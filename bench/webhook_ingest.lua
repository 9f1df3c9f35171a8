-- wrk script: replay pre-signed WAHA webhooks (one per line: "<hex hmac> <compact json body>").
-- Env: WEBHOOK_BODIES (file path). Bodies are used in order, each once; when the file is exhausted
-- the script starts over (those repeats are duplicates and are counted separately).
local path = os.getenv("WEBHOOK_BODIES")
local items = {}
for line in io.lines(path) do
  local space = string.find(line, " ", 1, true)
  items[#items + 1] = { string.sub(line, 1, space - 1), string.sub(line, space + 1) }
end
local index = 0
local wrapped = 0

request = function()
  index = index + 1
  if index > #items then
    index = 1
    wrapped = wrapped + 1
  end
  local item = items[index]
  return wrk.format("POST", "/webhooks/waha", {
    ["Content-Type"] = "application/json",
    ["X-Webhook-Hmac"] = item[1],
    ["X-Webhook-Hmac-Algorithm"] = "sha512",
  }, item[2])
end

local non200, duplicates = 0, 0
response = function(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif string.find(body, '"duplicate"', 1, true) then
    duplicates = duplicates + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("webhook non-200: %d duplicates: %d wrapped: %d\n", non200, duplicates, wrapped))
end
