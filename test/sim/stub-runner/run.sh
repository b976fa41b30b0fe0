#!/bin/sh
# Plays a GitHub Actions runner against test/sim/github-simulator.ts. The JIT config the app passes
# in ACTIONS_RUNNER_INPUT_JITCONFIG is, for the simulator, base64 of "<simulator url> <runner id>".
# Exit codes: 0 job done, registration gone or runner version refused, 2 bad config (or STUB_BOOT_SECONDS), 3 simulator
# unreachable, or the code a "crash" job or an "exit" at start asks for.

log() {
  echo "stub-runner: $*" >&2
}

# The shell is PID 1 in the container and would ignore SIGTERM without a trap.
trap 'log "terminated"; exit 143' TERM INT

if [ -z "${ACTIONS_RUNNER_INPUT_JITCONFIG:-}" ]; then
  log "ACTIONS_RUNNER_INPUT_JITCONFIG is not set"
  exit 2
fi
config=$(printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" | base64 -d 2>/dev/null)
# The real runner drops the secret from its environment as well.
unset ACTIONS_RUNNER_INPUT_JITCONFIG
url=${config% *}
id=${config##* }
case "$url" in
  http://*) ;;
  *)
    log "ACTIONS_RUNNER_INPUT_JITCONFIG does not decode to '<url> <runner id>'"
    exit 2
    ;;
esac
case "$id" in
  '' | *[!0-9]*)
    log "ACTIONS_RUNNER_INPUT_JITCONFIG does not decode to '<url> <runner id>'"
    exit 2
    ;;
esac

# Sleeps in the background so the TERM trap runs at once instead of after the sleep.
pause() {
  sleep "$1" &
  wait $!
}

# The official runner takes seconds from container start to listening for jobs; STUB_BOOT_SECONDS
# (the pool's env, whole or decimal seconds, default 0) plays that: no poll, so not online, before.
boot=${STUB_BOOT_SECONDS:-0}
case "$boot" in
  *[!0-9.]* | *.*.* | .* | *.)
    log "STUB_BOOT_SECONDS must be seconds such as 4 or 0.5, got '$boot'"
    exit 2
    ;;
esac
if [ "$boot" != 0 ]; then
  log "booting for $boot s"
  pause "$boot"
fi

# Prints the simulator's answer; on an HTTP error busybox wget prints its error line instead
# (stderr is folded in on purpose: "404" in it means the registration is gone).
call() {
  wget -q -O - --post-data= "$url/_sim/runners/$id/$1" 2>&1
}

failures=0
while :; do
  answer=$(call poll)
  case "$answer" in
    wait)
      failures=0
      pause 0.2
      ;;
    "run "* | oom | "memory "* | "crash "* | hang)
      break
      ;;
    "exit "*)
      # A runner that cannot start (the simulator plays a broken image): dies before any job.
      log "runner $id cannot start: simulated start-up failure"
      log "exiting with code ${answer#exit }"
      exit "${answer#exit }"
      ;;
    "deprecated "*)
      # GitHub refuses the runner's version. The real runner's words (actions/runner:
      # src/Sdk/WebApi/WebApi/BrokerHttpClient.cs throws "Runner version v{runnerVersion} is
      # deprecated and cannot receive messages.", the listener prints it after "An error occured: ",
      # as in actions/runner issue #4305), then src/Misc/layoutroot/run-helper.sh.template's line
      # for the listener's terminated error, and its exit 0.
      echo "Current runner version: '${answer#deprecated }'"
      echo "An error occured: Runner version v${answer#deprecated } is deprecated and cannot receive messages."
      echo "Runner listener exit with terminated error, stop the service, no retry needed."
      exit 0
      ;;
    *404*)
      log "registration $id is gone"
      exit 0
      ;;
    *)
      failures=$((failures + 1))
      if [ "$failures" -ge 150 ]; then
        log "cannot reach the simulator: $answer"
        exit 3
      fi
      pause 0.2
      ;;
  esac
done

log "runner $id got: $answer"
case "$answer" in
  "run "*)
    pause "${answer#run }"
    call complete >/dev/null
    exit 0
    ;;
  oom)
    # Doubling a shell variable in PID 1 itself: the kernel's OOM killer then ends the container
    # (a child process being killed would leave the container running).
    hog=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
    while :; do
      hog="$hog$hog"
    done
    ;;
  "memory "*)
    # Grows a shell variable in PID 1 to the size asked for (the copy made while doubling needs half
    # as much again), then completes: a small memory limit OOM-kills it, a big one lets it finish.
    want=$((${answer#memory } * 1048576))
    hog=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
    while [ "${#hog}" -lt "$want" ]; do
      hog="$hog$hog"
    done
    log "holding ${#hog} bytes"
    call complete >/dev/null
    exit 0
    ;;
  "crash "*)
    exit "${answer#crash }"
    ;;
  hang)
    while :; do
      pause 3600
    done
    ;;
esac
