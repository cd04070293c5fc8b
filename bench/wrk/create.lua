-- POST /Users with a fresh userName per request (durable creates). RUN (set per wrk run by
-- bench/load.py) keeps names of repeated runs against one bridge apart: LuaJIT's math.random
-- repeats its sequence in every run, so names from it alone collide (409) on the second.
package.path = os.getenv("PWD") .. "/bench/wrk/?.lua;" .. package.path
local c = require("common")
local headers = c.headers()
local thread_id = 0
local n = 0
setup = function(thread) thread_id = thread_id + 1; thread:set("tid", thread_id) end
request = function()
  n = n + 1
  local name = "new-" .. (os.getenv("RUN") or "0") .. "-" .. tostring(tid) .. "-" .. n .. "@bench.example"
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","name":{"givenName":"New","familyName":"User"},"emails":[{"value":"' .. name .. '","type":"work"}],"active":true}'
  return wrk.format("POST", "/scim/v2/Users", headers, body)
end
