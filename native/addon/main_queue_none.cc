// main_queue.h where there is no main dispatch queue to service (Linux).
#include "addon/main_queue.h"

namespace agfx {

void MainQueuePumpAcquire(Napi::Env) {}
void MainQueuePumpRelease() {}

}  // namespace agfx
