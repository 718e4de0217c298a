from django.urls import path

from reviews.api import views

app_name = "review-api"

urlpatterns = [
    path("", views.ReviewQueueView.as_view(), name="queue"),
    path("stats/", views.StatsView.as_view(), name="stats"),
    path("hold/", views.HoldView.as_view(), name="hold"),
    path("incidents/", views.IncidentListView.as_view(), name="incidents"),
    path(
        "incidents/<str:signature>/resolve/",
        views.IncidentResolveView.as_view(),
        name="incident-resolve",
    ),
    path(
        "accounts/<id:account_id>/reactivate/",
        views.AccountReactivateView.as_view(),
        name="account-reactivate",
    ),
    path("accounts/<id:account_id>/pause/", views.AccountPauseView.as_view(), name="account-pause"),
    path("<id:phase_id>/", views.ReviewItemView.as_view(), name="item"),
    path("<id:phase_id>/resolve/", views.ResolveView.as_view(), name="resolve"),
    path("<id:phase_id>/assign/", views.AssignView.as_view(), name="assign"),
    path("<id:phase_id>/comment/", views.CommentView.as_view(), name="comment"),
    path("<id:phase_id>/recategorize/", views.RecategorizeView.as_view(), name="recategorize"),
]
