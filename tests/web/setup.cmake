# CTest fixture of the web dashboard test: copies the test and its package files into the build
# directory and installs playwright-core there from the committed lockfile (no browser download:
# the test drives Debian's /usr/bin/chromium). Run as: cmake -DSRC=… -DDEST=… -DNPM=… -P setup.cmake
file(MAKE_DIRECTORY ${DEST})
file(COPY ${SRC}/package.json ${SRC}/package-lock.json ${SRC}/dashboard_test.mjs DESTINATION ${DEST})
execute_process(COMMAND ${NPM} ci --prefer-offline --no-audit --no-fund --loglevel=error
    WORKING_DIRECTORY ${DEST} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "npm ci for the web dashboard test failed (${rc})")
endif()
