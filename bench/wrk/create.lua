-- POST /Users with a fresh userName per request (durable creates).
package.path = os.getenv("PWD") .. "/bench/wrk/?.lua;" .. package.path
local c = require("common")
local headers = c.headers()
local thread_id = 0
local n = 0
setup = function(thread) thread_id = thread_id + 1; thread:set("tid", thread_id) end
request = function()
  n = n + 1
  local name = "new-" .. tostring(tid) .. "-" .. n .. "-" .. math.random(1, 1e9) .. "@bench.example"
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","name":{"givenName":"New","familyName":"User"},"emails":[{"value":"' .. name .. '","type":"work"}],"active":true}'
  return wrk.format("POST", "/scim/v2/Users", headers, body)
end
