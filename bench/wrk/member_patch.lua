-- PATCH /Groups/{GROUP}: add or remove one spare user (alternating), Okta's delta shape.
package.path = os.getenv("PWD") .. "/bench/wrk/?.lua;" .. package.path
local c = require("common")
local group = os.getenv("GROUP")
local spare, headers
local n = 0
init = function() spare = c.lines(os.getenv("SPARE")); headers = c.headers() end
request = function()
  n = n + 1
  local id = spare[math.random(1, #spare)]
  local body
  if n % 2 == 0 then
    body = '{"Operations":[{"op":"add","path":"members","value":[{"value":"' .. id .. '"}]}]}'
  else
    body = '{"Operations":[{"op":"remove","path":"members[value eq \\"' .. id .. '\\"]"}]}'
  end
  return wrk.format("PATCH", "/scim/v2/Groups/" .. group, headers, body)
end
