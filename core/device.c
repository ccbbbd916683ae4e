// device.c — see device.h: finding, loading and checking the CUDA plugin. build/l4q links
// no CUDA library; everything CUDA comes in through dlopen of build/libl4q_cuda.so.
#include "plugin_path.h"
#include "device.h"
#include "util.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const DeviceOps *g_ops;
static char g_name[256];


const DeviceOps *device_try_open(const char *path_in, char *err, size_t errlen) {
    char path[PATH_MAX + 32];
    if (path_in && *path_in) snprintf(path, sizeof path, "%s", path_in);
    else plugin_path("L4Q_CUDA_PLUGIN", "libl4q_cuda.so", path, sizeof path);
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s not found: run make cuda (needs nvcc)", path);
        return NULL;
    }
    // RTLD_LOCAL: the plugin's CUDA libraries stay out of the global namespace.
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%s: cannot load the CUDA plugin: %s", path, dlerror());
        return NULL;
    }
    const DeviceOps *o = dlsym(h, "l4q_cuda_ops");
    const char *why = NULL;
    if (!o) why = "it exports no l4q_cuda_ops";
    if (!why && o->version != DEVICE_OPS_VERSION) {
        snprintf(err, errlen, "%s: CUDA plugin interface version %d, this build wants %d: rebuild it with make cuda", path,
                 o->version, DEVICE_OPS_VERSION);
        dlclose(h);
        return NULL;
    }
    if (!why && o->struct_size != sizeof(DeviceOps)) {
        snprintf(err, errlen, "%s: CUDA plugin table is %zu bytes, this build's is %zu (built from another core/device.h): "
                 "rebuild it with make cuda", path, o->struct_size, sizeof(DeviceOps));
        dlclose(h);
        return NULL;
    }
    if (!why && (!o->init || !o->supports || !o->model_new || !o->model_free || !o->step || !o->zero_grad || !o->grad_clip ||
                 !o->adamw_step || !o->n_trainables || !o->download || !o->upload || !o->adamw_t || !o->memory || !o->sync))
        why = "its l4q_cuda_ops leaves a function NULL";
    if (why) {
        snprintf(err, errlen, "%s: not a CUDA plugin of this build (%s): rebuild it with make cuda", path, why);
        dlclose(h);
        return NULL;
    }
    char msg[512] = "";
    g_name[0] = 0;
    if (o->init(0, g_name, sizeof g_name, msg, sizeof msg) != 0) {
        // The plugin reports the CUDA error (cudaErrorNoDevice: ...); say what it means here.
        if (!strncmp(msg, "no CUDA device", 14)) snprintf(err, errlen, "%s", msg);
        else snprintf(err, errlen, "no CUDA device (%s)", msg[0] ? msg : "the plugin's init failed without a message");
        // Not dlclose'd: the CUDA runtime may have registered exit handlers.
        return NULL;
    }
    if (!g_name[0]) snprintf(g_name, sizeof g_name, "CUDA device 0");
    g_ops = o;
    return o;
}

const DeviceOps *device_open(const char *what) {
    if (g_ops) return g_ops;
    char err[1024] = "";
    const DeviceOps *o = device_try_open(NULL, err, sizeof err);
    if (!o) die_input("%s: %s", what, err);
    return o;
}

const char *device_name(void) { return g_name; }
