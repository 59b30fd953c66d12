# The web dashboard's build step (included by app/CMakeLists.txt): `npm ci` from the committed
# lockfile in a copy under the build directory, then the page's files (web/src) and the charting
# library's distribution files are copied into <build>/web/dist and compiled into `target` as
# Qt resources under :/web, so the binary serves every asset itself (no internet at runtime).
# No bundler: the page is plain ES modules; uPlot ships a ready IIFE build.

find_program(ADCLICK_NPM npm)
if(NOT ADCLICK_NPM)
    message(FATAL_ERROR "npm not found: the web dashboard's assets are installed with npm (scripts/setup installs Node.js and npm)")
endif()

function(adclick_add_web_assets target)
    set(src ${PROJECT_SOURCE_DIR}/web)
    set(work ${CMAKE_BINARY_DIR}/web)
    set(dist ${work}/dist)
    set(stamp ${work}/npm-ci.stamp)
    add_custom_command(OUTPUT ${stamp}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${work}
        COMMAND ${CMAKE_COMMAND} -E copy_if_different ${src}/package.json ${src}/package-lock.json ${work}
        COMMAND ${ADCLICK_NPM} ci --prefer-offline --no-audit --no-fund --loglevel=error
        COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
        WORKING_DIRECTORY ${work}
        DEPENDS ${src}/package.json ${src}/package-lock.json
        COMMENT "web dashboard: npm ci (uPlot, from web/package-lock.json)"
        VERBATIM)

    file(GLOB page_files CONFIGURE_DEPENDS ${src}/src/*)
    set(library_files ${work}/node_modules/uplot/dist/uPlot.iife.min.js ${work}/node_modules/uplot/dist/uPlot.min.css
        ${work}/node_modules/uplot/LICENSE)
    set(outputs)
    set(copies)
    foreach(f IN LISTS page_files)
        get_filename_component(name ${f} NAME)
        list(APPEND outputs ${dist}/${name})
    endforeach()
    list(APPEND outputs ${dist}/uPlot.iife.min.js ${dist}/uPlot.min.css ${dist}/uPlot.LICENSE.txt)
    add_custom_command(OUTPUT ${outputs}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${dist}
        COMMAND ${CMAKE_COMMAND} -E copy ${page_files} ${dist}
        COMMAND ${CMAKE_COMMAND} -E copy ${work}/node_modules/uplot/dist/uPlot.iife.min.js
                ${work}/node_modules/uplot/dist/uPlot.min.css ${dist}
        COMMAND ${CMAKE_COMMAND} -E copy ${work}/node_modules/uplot/LICENSE ${dist}/uPlot.LICENSE.txt
        DEPENDS ${stamp} ${page_files}
        COMMENT "web dashboard: assets into ${dist}"
        VERBATIM)
    set_source_files_properties(${outputs} PROPERTIES GENERATED TRUE)
    qt_add_resources(${target} "web" PREFIX "/web" BASE ${dist} FILES ${outputs})
endfunction()
