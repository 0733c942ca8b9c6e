-- bench/wrk.lua with a pause after each answer (its third argument, in ms), for the light-load phase.
-- wrk looks for delay() when it loads the script, so it lives in this file of its own: the saturation
-- runs, which use wrk.lua, pay no timer per request.
dofile("bench/wrk.lua")

function delay()
  return pause
end
