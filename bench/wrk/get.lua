-- GET /Users/{id} of a random seeded user.
package.path = os.getenv("PWD") .. "/bench/wrk/?.lua;" .. package.path
local c = require("common")
local ids, headers
init = function() ids = c.lines(os.getenv("IDS")); headers = c.headers() end
request = function()
  return wrk.format("GET", "/scim/v2/Users/" .. ids[math.random(1, #ids)], headers)
end
