from django.urls import path

from . import views

urlpatterns = [
    path("api/archive-key", views.archive_key, name="api-archive-key"),
    path("api/inbox", views.InboxListView.as_view(), name="api-inbox"),
    path("api/inbox/<str:name>", views.InboxUploadView.as_view(), name="api-inbox-upload"),
]
