from django.urls import path

from warmup.api import views

app_name = "bot-api"

urlpatterns = [
    path("phases/claim/", views.ClaimView.as_view(), name="claim"),
    path("phases/<id:phase_id>/", views.PhaseDetailView.as_view(), name="phase"),
    path("phases/<id:phase_id>/heartbeat/", views.HeartbeatView.as_view(), name="heartbeat"),
    path("phases/<id:phase_id>/complete/", views.CompleteView.as_view(), name="complete"),
    path("phases/<id:phase_id>/fail/", views.FailView.as_view(), name="fail"),
    path("accounts/<id:account_id>/", views.AccountDetailView.as_view(), name="account"),
]
